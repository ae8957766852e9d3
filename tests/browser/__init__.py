"""Support for the widget's browser tests: a headless Chromium driver and scripted fakes of the models."""
