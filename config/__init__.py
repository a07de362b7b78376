"""The project's configuration: `cloud.py` (the twin of the guide's `config/cloud.ts`) and its sections."""
