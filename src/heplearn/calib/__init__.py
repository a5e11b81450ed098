"""e/γ energy calibration: features, BDT baseline, DeepCalo network, evaluation and mass fits."""
