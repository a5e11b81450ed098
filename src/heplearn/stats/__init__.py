"""Statistics shared by the workflows: weighted ROC curves, AUC and two-sample tests."""

from heplearn.stats.roc import RocCurve, roc_auc, roc_curve
from heplearn.stats.two_sample import weighted_ks

__all__ = ["RocCurve", "roc_auc", "roc_curve", "weighted_ks"]
