"""The incident lab: scenarios (lab/scenarios/<name>/), run on the real engine and scored."""
