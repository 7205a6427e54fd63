"""The C shim between the image and the platform: netdevs, domainpoll, memory, seal."""
