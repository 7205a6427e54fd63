"""Our own Ethernet/ARP/IPv4/ICMP/UDP stack over pvboot rings (filled by the direct-stack issue)."""
