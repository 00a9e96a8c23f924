"""The run report: one self-contained HTML page per run, `build/<env>/report.html`."""
