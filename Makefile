# make run   : set up, build the example image and serve it on 127.0.0.1:5353 (socket stack)
# make test  : set up (system packages included) and run every test
# make bench : set up and run the benchmarks (bench/README.md)

PY        ?= python3
VENV      := .venv
VPY       := $(VENV)/bin/python
PIP       := $(VPY) -m pip
STAMP     := $(VENV)/.deps-stamp
BUILT     := $(VENV)/.built-stamp
IMAGE     := out/example.img
LISTEN    ?= 127.0.0.1:5353
PYDEPS    := cython dnslib scapy pytest pytest-benchmark hypothesis ruff cython-lint setuptools wheel matplotlib
# what the tests run against (real peers and clients, DESIGN.md section 8)
APT_PKGS  := nsd knot knot-dnssecutils bind9 dnsperf bind9-dnsutils knot-dnsutils iproute2 \
             iputils-ping qemu-system-x86 binutils util-linux

# hand-written sources (the .c files Cython generates next to each .pyx are not)
SOURCES := $(shell find appliance zones netstack pvboot -name '*.py' -o -name '*.pyx' \
             -o -name '*.pxd' -o -name '*.h' 2>/dev/null) \
           $(filter-out pvboot/netdev.c,$(wildcard pvboot/*.c)) setup.py

.PHONY: all venv build run test test-fast bench lint clean distclean syspkgs example

all: build

$(STAMP):
	$(PY) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(PYDEPS)
	touch $@

venv: $(STAMP)

$(BUILT): $(STAMP) $(SOURCES)
	$(PIP) install -q --no-build-isolation -e .
	touch $@

build: $(BUILT)

# System packages the tests need; installed only when missing (CI and a fresh machine are root).
syspkgs:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(IMAGE): $(BUILT) zones/examples/example.com.zone
	@mkdir -p out
	$(VENV)/bin/appliance build zones/examples/example.com.zone \
	  --identity example-appliance -o $(IMAGE)

example: $(IMAGE)

run: $(IMAGE)
	@echo "try:  dig @$(firstword $(subst :, ,$(LISTEN))) -p $(lastword $(subst :, ,$(LISTEN))) www.example.com A"
	$(VENV)/bin/appliance run $(IMAGE) --listen $(LISTEN)

test: syspkgs $(BUILT)
	$(VPY) -m pytest -q

test-fast: $(BUILT)
	$(VPY) -m pytest -q -m "not slow"

bench: syspkgs $(BUILT)
	$(VENV)/bin/appliance bench
	$(VENV)/bin/appliance bench --boot

lint: $(BUILT)
	$(VENV)/bin/ruff check appliance zones netstack pvboot bench tests
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH cython-lint appliance

clean:
	rm -rf build out *.egg-info $(BUILT)
	rm -f appliance/*.c netstack/*.c pvboot/netdev.c */*.so */*.html

distclean: clean
	rm -rf $(VENV)
