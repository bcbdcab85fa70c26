"""Perception: the YOLO pose person detector, the DeepSORT tracker and the tubelet builder."""
