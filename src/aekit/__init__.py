"""aekit: the autoencoder family, the jobs people use it for, and the evidence that each works.

>>> import aekit
>>> model = aekit.create("vae", input_shape=(64,), latent_dim=4, likelihood="bernoulli")
>>> model.sample(2).shape
torch.Size([2, 64])
"""

from aekit._version import __version__
from aekit.apps.denoise import Denoiser, SignalDenoiser  # noqa: E402
from aekit.apps.detect import AnomalyDetector  # noqa: E402
from aekit.apps.reduce import AutoencoderReducer  # noqa: E402
from aekit.apps.timeseries import TimeSeriesAnomalyDetector  # noqa: E402
from aekit.data.dataset import Dataset  # noqa: E402
from aekit.io import load  # noqa: E402
from aekit.models import Autoencoder, Loss, available, create  # noqa: E402
from aekit.train import TrainConfig, Trainer, TrainResult  # noqa: E402

__all__ = [
    "AnomalyDetector",
    "Autoencoder",
    "AutoencoderReducer",
    "Dataset",
    "Denoiser",
    "Loss",
    "SignalDenoiser",
    "TrainConfig",
    "TimeSeriesAnomalyDetector",
    "TrainResult",
    "Trainer",
    "__version__",
    "available",
    "create",
    "load",
]
