"""The built-in demo platform: a real LTI 1.3 platform for trying Beeldcoach without an LMS."""
