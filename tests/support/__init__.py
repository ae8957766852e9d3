"""Plain helper modules for the tests (fakes, servers, WAV reading); fixtures live in tests/conftest.py."""
