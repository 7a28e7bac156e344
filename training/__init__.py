"""Training world of the screen codec: data pipeline (training.data) and trainer."""
