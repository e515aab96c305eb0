"""The images of the Docker deployment: their build contexts (`contexts`) and base (`base`)."""
