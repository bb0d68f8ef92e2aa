"""The demo night: scenario, driver, report and plots (``evgrid demo``)."""
