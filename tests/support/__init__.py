"""Helpers shared by several test modules, each in a module named for what it holds. A test
module imports its helpers from here (or from a conftest), never from another test module
(tests/test_test_layout.py holds that)."""
