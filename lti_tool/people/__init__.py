"""People and courses as the learning platform tells us about them."""
