"""The alliance's registry and front door: members, and admission of their ERPs' requests."""
