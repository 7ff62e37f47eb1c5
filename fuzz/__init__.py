"""schemathesis against the admin APIs of a running platform (`make fuzz`, and briefly in `make test`)."""
