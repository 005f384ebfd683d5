"""Networks in plain torch (torchvision does not load with the CPU torch build here)."""
