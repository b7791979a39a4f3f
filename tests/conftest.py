"""Suite-wide test set-up: tests that need a freshly trained network are `slow`.

A fixture cannot carry a mark, so the fixtures that train a network (tens of seconds each
on the 2-core machine) are listed here by module and name, and every test that uses one,
directly or through another fixture, gets the `slow` mark at collection; `make test-fast`
(`-m "not slow ..."`) then never trains.
"""

import pytest

TRAINING_FIXTURES = {
    ("test_train", "tiny"),
    ("test_cli_train_eval", "trained_dir"),
    ("test_export", "trained"),
    ("test_golden_network", "cnn"),
    ("test_estimate_network", "art"),         # tests/array_export.trained_cnn()
    ("test_synth_asic", "cnn"),               # the same
}


def pytest_collection_modifyitems(items):
    for item in items:
        module = getattr(item, "module", None)
        name = module.__name__.rpartition(".")[2] if module is not None else ""
        if any((name, f) in TRAINING_FIXTURES for f in getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
