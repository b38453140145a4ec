"""Domain services: functions over a SQLAlchemy session and plain arguments, free of Flask globals."""
