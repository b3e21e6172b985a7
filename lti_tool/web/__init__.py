"""Pages and the JSON API: thin views over the domain packages."""
