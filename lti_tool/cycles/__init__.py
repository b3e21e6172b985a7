"""The coaching traject: intake, video cycles, viewing guides, markers, final review."""
