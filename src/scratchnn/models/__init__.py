"""Models: ``Model`` (compile / fit / evaluate / predict around overridable steps),
``Sequential`` stacks, functional graphs (``Model(inputs, outputs)``) and the one builder.

* :mod:`scratchnn.models.model`: the ``Model`` base, its steps and its weights;
* :mod:`scratchnn.models.sequential`: ``Sequential``;
* :mod:`scratchnn.models.functional`: graphs of layers;
* :mod:`scratchnn.models.population`: many networks of one structure trained as one;
* :mod:`scratchnn.models.trainer`: the one training loop every model trains in;
* :mod:`scratchnn.models.compiled`: what ``compile`` makes of losses and metrics;
* :mod:`scratchnn.models.config`: configuration -> model (and the registry of custom models);
* :mod:`scratchnn.models.saving`: ``save_model`` / ``load_model`` (safe files, :mod:`scratchnn.io`);
* :mod:`scratchnn.models.data`: the checks every array goes through before training;
* :mod:`scratchnn.models.rbm`, :mod:`scratchnn.models.dbn`, :mod:`scratchnn.models.gan`,
  :mod:`scratchnn.models.autoencoders`: RBMs and deep belief nets, GANs, autoencoders
  (tutorial 004's deep architectures).
"""

from scratchnn.models.autoencoders import Autoencoder, conv_autoencoder, dense_autoencoder
from scratchnn.models.config import build_model, layer_from_config, model_from_config, register
from scratchnn.models.dbn import DBN
from scratchnn.models.fitting import PREDICT_BATCH_SIZE
from scratchnn.models.functional import Functional
from scratchnn.models.gan import GAN, dcgan, dense_gan
from scratchnn.models.model import Model
from scratchnn.models.population import Population
from scratchnn.models.rbm import RBM
from scratchnn.models.saving import load_model, load_weights, save_model, save_weights
from scratchnn.models.sequential import Sequential

__all__ = [
    "DBN",
    "GAN",
    "PREDICT_BATCH_SIZE",
    "RBM",
    "Autoencoder",
    "Functional",
    "Model",
    "Population",
    "Sequential",
    "build_model",
    "conv_autoencoder",
    "dcgan",
    "dense_autoencoder",
    "dense_gan",
    "layer_from_config",
    "load_model",
    "load_weights",
    "model_from_config",
    "register",
    "save_model",
    "save_weights",
]
