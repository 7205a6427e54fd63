"""Markers of the benchmarks (registered here: bench/ is not collected by ``make test``)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "huge: the 1,000,000-record build (minutes, ~2 GB); -m 'not huge' skips it")
