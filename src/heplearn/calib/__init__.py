"""e/γ energy calibration: features, BDT baseline, the DeepCalo network, evaluation and mass fits."""
