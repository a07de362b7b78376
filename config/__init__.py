"""The user's cloud settings (`config/cloud.py`) and the models that validate them (`config/schema.py`)."""
