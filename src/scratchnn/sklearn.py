"""scikit-learn estimators around scratchnn networks: NeuralNetClassifier, NeuralNetRegressor,
and RBMTransformer (an RBM's hidden probabilities as features, the first step of a pipeline).

They follow scikit-learn's conventions, so ``clone``, ``Pipeline``, ``ColumnTransformer``,
``cross_val_score`` and ``GridSearchCV`` work with them (``check_estimator`` passes): the
constructor only stores its parameters, ``fit`` checks them and the data, and what is learnt ends
with an underscore (``model_``, ``classes_``, ``n_features_in_``, ``feature_names_in_``,
``loss_curve_``, ``history_``, ``n_iter_``). Under the hood ``fit`` builds a
:class:`~scratchnn.Sequential`, compiles and fits it: one training loop, the library's own.

    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from scratchnn.sklearn import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), NeuralNetClassifier(
    ...     hidden_layer_sizes=(16,), learning_rate=0.01, epochs=100, random_state=0))
    >>> clf.fit(X, y).score(X, y) > 0.9
    True

The architecture is a multi-layer perceptron (``hidden_layer_sizes`` Dense layers with
``activation``, then the output layer the task needs), or any network through ``model=``:

* a list of layers, as ``{"class_name": "Dense", "config": {...}}`` dicts (``get_config()``
  entries) or :class:`~scratchnn.layers.Layer` objects (copied at each ``fit``): the hidden part;
  the output layer is appended;
* a callable ``model(n_features_in=..., n_outputs=...)`` returning a whole
  :class:`~scratchnn.Sequential` (output layer included; compiled or not: an uncompiled one is
  compiled with ``optimizer``, ``learning_rate`` and the task's loss).

Outputs and losses: two classes -> one sigmoid unit, binary cross-entropy; K > 2 classes -> K
softmax units, sparse categorical cross-entropy; regression -> one linear unit per target, mean
squared error.

Storing a trained estimator: pickling works as scikit-learn expects (``pickle``, ``joblib``),
but a pickle runs code when loaded. The safe way is scratchnn's model file for the network
(``est.model_.save("net.snn")``: safetensors and JSON, nothing executed on load) and
:meth:`NeuralNetClassifier.from_model` to rebuild a fitted estimator from it:
``NeuralNetClassifier.from_model("net.snn", classes=est.classes_)``.
"""

from __future__ import annotations

import copy
import numbers
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    RegressorMixin,
    TransformerMixin,
)
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from scratchnn import backend, callbacks, optimizers
from scratchnn.layers import LAYERS, Dense, Layer
from scratchnn.models import RBM, Sequential, saving

if TYPE_CHECKING:
    from scratchnn.activations import ActivationName
    from scratchnn.losses import LossName

__all__ = ["NeuralNetClassifier", "NeuralNetRegressor", "RBMTransformer"]

_SEED_BOUND = 2**31 - 1


def _check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; received {name}={value!r}.")
    return int(value)


def _seed(random_state: Any) -> int:
    """An int seed for the network's generator from scikit-learn's ``random_state``.

    ``None``: a fresh seed from the operating system's entropy (a new network each fit); an int:
    itself; a ``RandomState`` or ``Generator``: one draw from it.
    """
    if random_state is None:
        return int(np.random.default_rng().integers(_SEED_BOUND))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if not 0 <= int(random_state) <= 2**32 - 1:
            raise ValueError(
                f"random_state must be an integer in [0, 2**32 - 1], a numpy RandomState or "
                f"Generator, or None; received random_state={random_state!r}."
            )
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(_SEED_BOUND))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(_SEED_BOUND))
    raise ValueError(
        "random_state must be None, an integer, a numpy RandomState or a numpy Generator; "
        f"received {type(random_state).__name__}."
    )


class _NeuralNetBase(BaseEstimator):
    """What the classifier and the regressor share: parameters, building and training."""

    _OUTPUT_KIND = ""  # "classifier" or "regressor", for messages

    # set by fit / partial_fit / from_model (scikit-learn's trailing underscore: fitted state)
    model_: Sequential
    n_features_in_: int
    history_: dict[str, list[float]]
    loss_curve_: list[float]
    n_iter_: int

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] | int = (100,),
        activation: ActivationName = "relu",
        optimizer: Any = "adam",
        learning_rate: float = 0.001,
        batch_size: int = 200,
        epochs: int = 200,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        random_state: Any = None,
        verbose: int = 0,
        model: Any = None,
        dtype: str = "float32",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.model = model
        self.dtype = dtype

    # ------------------------------------------------------------------------------- checks
    def _checked_params(self) -> dict[str, Any]:
        """The parameters checked and normalised (called by fit, never by __init__)."""
        sizes: Any = self.hidden_layer_sizes  # checked here: anything a user may have set
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            sizes = tuple(_check_positive_int(n, "each hidden layer size") for n in sizes)
        except TypeError:
            raise ValueError(
                "hidden_layer_sizes must be a tuple of positive integers such as (100,) or "
                f"(64, 32); received hidden_layer_sizes={self.hidden_layer_sizes!r}."
            ) from None
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not 0 < lr < np.inf:
            raise ValueError(
                f"learning_rate must be a positive number; received learning_rate={lr!r}."
            )
        fraction = self.validation_fraction
        if self.early_stopping and (
            isinstance(fraction, bool) or not isinstance(fraction, numbers.Real)
            or not 0 < fraction < 1
        ):
            raise ValueError(
                "validation_fraction must be a fraction in (0, 1) when early_stopping=True; "
                f"received validation_fraction={fraction!r}."
            )
        tol = self.tol
        if isinstance(tol, bool) or not isinstance(tol, numbers.Real) or not 0 <= tol < np.inf:
            raise ValueError(f"tol must be a number >= 0; received tol={tol!r}.")
        if self.verbose not in (0, 1, 2, False, True):
            raise ValueError(f"verbose must be 0, 1 or 2; received verbose={self.verbose!r}.")
        if self.model is not None and not callable(self.model) and not isinstance(
            self.model, (list, tuple)
        ):
            raise ValueError(
                "model must be None, a list of layers (or layer configs) or a callable "
                f"returning a Sequential; received {type(self.model).__name__}."
            )
        return {
            "hidden_layer_sizes": sizes,
            "learning_rate": float(lr),
            "batch_size": _check_positive_int(self.batch_size, "batch_size"),
            "epochs": _check_positive_int(self.epochs, "epochs"),
            "n_iter_no_change": _check_positive_int(self.n_iter_no_change, "n_iter_no_change"),
            "dtype": backend.resolve_dtype(self.dtype),
        }

    # ----------------------------------------------------------------------------- building
    def _hidden_layers(self, params: dict[str, Any]) -> list[Layer]:
        if self.model is None:
            return [Dense(n, activation=self.activation) for n in params["hidden_layer_sizes"]]
        layers = []
        for i, entry in enumerate(self.model):
            if isinstance(entry, Layer):
                layers.append(copy.deepcopy(entry))  # the parameter itself stays unbuilt
                continue
            if not isinstance(entry, dict) or entry.get("class_name") not in LAYERS:
                raise ValueError(
                    f"model[{i}] must be a Layer or a dict {{'class_name': ..., 'config': "
                    f"{{...}}}} naming one of {', '.join(sorted(LAYERS))}; received {entry!r}."
                )
            layers.append(LAYERS[entry["class_name"]](**copy.deepcopy(entry.get("config", {}))))
        return layers

    def _build_network(
        self, n_features: int, n_outputs: int, output_activation: ActivationName,
        params: dict[str, Any],
    ) -> Sequential:
        """A compiled Sequential for ``n_features`` inputs and ``n_outputs`` output units."""
        if callable(self.model) and not isinstance(self.model, (list, tuple)):
            network = self.model(n_features_in=n_features, n_outputs=n_outputs)
            if not isinstance(network, Sequential):
                raise ValueError(
                    "model(n_features_in=..., n_outputs=...) must return a scratchnn "
                    f"Sequential; it returned {type(network).__name__}."
                )
            if not network.built:
                network.build((n_features,))
        else:
            layers = [*self._hidden_layers(params), Dense(n_outputs, output_activation)]
            network = Sequential(layers, dtype=params["dtype"], seed=_seed(self.random_state))
            network.build((n_features,))
        output = tuple(network.output_shape or ())
        if (
            network.input_shape != (n_features,)
            or len(output) != 1
            or output[0] not in self._accepted_outputs(n_outputs)
        ):
            raise ValueError(
                f"The network takes inputs {network.input_shape} and gives outputs {output}; "
                f"this {self._OUTPUT_KIND} needs inputs ({n_features},) and "
                f"{self._output_rule()} (here {n_outputs})."
            )
        if network.optimizer is None:
            network.compile(optimizer=self._make_optimizer(params), loss=self._loss_for(output[0]))
        return network

    def _accepted_outputs(self, n_outputs: int) -> tuple[int, ...]:
        """Output sizes the task can train (the classifier also takes 2 units for 2 classes)."""
        return (n_outputs,)

    def _loss_for(self, units: int) -> LossName:
        raise NotImplementedError

    def _output_rule(self) -> str:
        raise NotImplementedError

    def _make_optimizer(self, params: dict[str, Any]) -> optimizers.Optimizer:
        """``optimizer`` as a fresh Optimizer: a name gets ``learning_rate``; an Optimizer or a
        config dict is copied as it is (its own learning rate)."""
        if isinstance(self.optimizer, str):
            cls = optimizers.OPTIMIZERS.get(self.optimizer.lower())
            if cls is None:
                raise ValueError(
                    f"Unknown optimizer {self.optimizer!r}; expected one of "
                    f"{sorted(optimizers.OPTIMIZERS)}, an Optimizer or a config dict."
                )
            return cls(learning_rate=params["learning_rate"])
        return optimizers.get(copy.deepcopy(self.optimizer))

    # ----------------------------------------------------------------------------- training
    def _train(
        self, network: Sequential, X: np.ndarray, y: np.ndarray, epochs: int,
        params: dict[str, Any], stratify: np.ndarray | None, stop: bool,
    ) -> None:
        """Fit ``network`` on prepared arrays; extend ``loss_curve_`` and ``history_``."""
        validation = None
        cbs: list[callbacks.Callback] = []
        if stop and self.early_stopping:
            X, X_val, y, y_val = self._validation_split(X, y, stratify)
            validation = (X_val, y_val)
            cbs.append(callbacks.EarlyStopping(
                "val_loss", min_delta=self.tol, patience=params["n_iter_no_change"],
                restore_best_weights=True,
            ))  # fmt: skip
        elif stop:
            cbs.append(callbacks.EarlyStopping(
                "loss", min_delta=self.tol, patience=params["n_iter_no_change"]
            ))  # fmt: skip
        history = network.fit(
            X, y, batch_size=params["batch_size"], epochs=epochs, validation_data=validation,
            callbacks=cbs, verbose=cast("Literal[0, 1, 2]", int(self.verbose)),  # fit checks it
        )  # fmt: skip
        for key, values in history.history.items():
            self.history_.setdefault(key, []).extend(float(v) for v in values)
        self.loss_curve_ = list(self.history_.get("loss", []))
        self.n_iter_ = len(self.loss_curve_)

    def _validation_split(
        self, X: np.ndarray, y: np.ndarray, stratify: np.ndarray | None
    ) -> list[np.ndarray]:
        seed = _seed(self.random_state)
        n_val = int(np.ceil(self.validation_fraction * len(X)))
        if n_val < 1 or n_val >= len(X):
            raise ValueError(
                f"early_stopping with validation_fraction={self.validation_fraction} of "
                f"{len(X)} samples leaves {n_val} for validation and {len(X) - n_val} for "
                "training; both need at least one. Pass more data or another fraction."
            )
        if stratify is not None:
            counts = np.unique(stratify, return_counts=True)[1]
            if counts.min() < 2 or min(n_val, len(X) - n_val) < len(counts):
                stratify = None
        return train_test_split(
            X, y, test_size=self.validation_fraction, random_state=seed, stratify=stratify
        )

    def _start(self) -> None:
        self.history_ = {}
        self.loss_curve_ = []
        self.n_iter_ = 0

    def _outputs(self, X: Any) -> np.ndarray:
        """The network's float64 outputs ``(N, K)`` for ``X``, checked as a fitted estimator's."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=self.model_.dtype)
        return np.asarray(self.model_.predict(X), dtype=np.float64)

    def _one_more_epoch(self, X: np.ndarray, y: np.ndarray, params: dict[str, Any]) -> None:
        """``partial_fit``'s step: one epoch on prepared arrays, from the current state."""
        if self.model_.optimizer is None:  # a network from a file saved without compiling
            assert self.model_.output_shape is not None  # a fitted network is built
            loss = self._loss_for(int(self.model_.output_shape[-1]))
            self.model_.compile(optimizer=self._make_optimizer(params), loss=loss)
        self._train(self.model_, X, y, 1, params, None, stop=False)

    @classmethod
    def _from_network(cls, network: Any, feature_names: Sequence[str] | None,
                      params: dict[str, Any]) -> Any:  # fmt: skip
        """A fitted estimator around ``network`` (a Sequential or a path to a model file)."""
        if isinstance(network, (str, os.PathLike)):
            network = saving.load_model(network)
        if not isinstance(network, Sequential) or not network.built:
            raise ValueError(
                "from_model needs a built scratchnn Sequential or the path of a model file; "
                f"received {type(network).__name__}."
            )
        shape = network.input_shape
        if shape is None or len(shape) != 1:
            raise ValueError(
                f"The network takes inputs of shape {shape}; the estimators take "
                "tables (one feature axis)."
            )
        est = cls(**params)
        est.model_ = network
        est.n_features_in_ = int(shape[0])
        if feature_names is not None:
            names = np.asarray(list(feature_names), dtype=object)
            if len(names) != est.n_features_in_:
                raise ValueError(
                    f"feature_names has {len(names)} names; the network takes "
                    f"{est.n_features_in_} features."
                )
            est.feature_names_in_ = names
        est._start()
        if network.history is not None:
            for key, values in network.history.history.items():
                est.history_[key] = [float(v) for v in values]
            est.loss_curve_ = list(est.history_.get("loss", []))
            est.n_iter_ = len(est.loss_curve_)
        return est

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class NeuralNetClassifier(ClassifierMixin, _NeuralNetBase):
    """A neural-network classifier with scikit-learn's interface (``fit``, ``predict``, ...).

    Args:
        hidden_layer_sizes: units of each hidden Dense layer, e.g. ``(100,)`` or ``(64, 32)``;
            ``()`` for none (logistic regression).
        activation: activation of the hidden layers (a name of :mod:`scratchnn.activations`).
        optimizer: ``"adam"``, ``"sgd"``, ``"rmsprop"``, ... (with ``learning_rate``), or an
            Optimizer / config dict (used as given, its own learning rate).
        learning_rate: step size of a named optimizer.
        batch_size: rows per step (at most the number of rows: then full-batch).
        epochs: passes over the data (at most; see ``tol``).
        early_stopping: hold out ``validation_fraction`` of the rows (stratified) and stop when
            their loss has not improved by ``tol`` for ``n_iter_no_change`` epochs, keeping the
            best epoch's weights.
        validation_fraction: fraction held out with ``early_stopping``.
        n_iter_no_change: patience, in epochs.
        tol: smallest improvement that counts. Without ``early_stopping``, training stops when
            the training loss has not improved by ``tol`` for ``n_iter_no_change`` epochs
            (as scikit-learn's ``MLPClassifier``); ``tol=0`` with a large ``n_iter_no_change``
            runs every epoch.
        random_state: seed (int), ``RandomState``/``Generator``, or ``None`` (fresh each fit) for
            the initial weights, the shuffling and the validation split.
        verbose: 0 silent, 1 a progress bar per epoch, 2 one line per epoch.
        model: ``None`` (the MLP above), a list of hidden layers (Layer objects or
            ``{"class_name", "config"}`` dicts), or ``model(n_features_in=, n_outputs=)``
            returning a whole Sequential (see the module docstring).
        dtype: ``"float32"`` or ``"float64"``, the network's float type.

    Attributes:
        classes_: the class labels (sorted), any type scikit-learn accepts (ints, strings, ...).
        model_: the trained :class:`~scratchnn.Sequential`.
        n_features_in_: number of features seen in ``fit``.
        feature_names_in_: the column names, when ``X`` was a DataFrame with string names.
        loss_curve_: the training loss of each epoch (also across ``partial_fit`` calls).
        history_: every logged quantity per epoch (``loss``, ``val_loss``, ...).
        n_iter_: epochs run.

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(100, 2))
        >>> y = np.where(X[:, 0] > 0, "yes", "no")
        >>> clf = NeuralNetClassifier((8,), epochs=50, learning_rate=0.05, random_state=0)
        >>> clf.fit(X, y).predict(X[:3]).tolist(), clf.classes_.tolist()
        (['yes', 'yes', 'no'], ['no', 'yes'])
    """

    _OUTPUT_KIND = "classifier"

    def fit(self, X: ArrayLike, y: ArrayLike) -> NeuralNetClassifier:
        """Train a new network on ``X`` ``(N, D)`` and labels ``y`` ``(N,)``; returns ``self``."""
        params = self._checked_params()
        checked: tuple[np.ndarray, np.ndarray] = validate_data(self, X, y, dtype=params["dtype"])
        X, y = checked
        self.classes_, encoded = self._encode(y, classes=None)
        self._start()
        self.model_ = self._new_network(X.shape[1], params)
        self._train(self.model_, X, encoded, params["epochs"], params, encoded, stop=True)
        return self

    def partial_fit(
        self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None
    ) -> NeuralNetClassifier:
        """One epoch on ``(X, y)``, continuing from the current weights and optimizer state.

        Args:
            X: ``(N, D)`` features.
            y: ``(N,)`` labels, all among ``classes``.
            classes: every class label; required on the first call (as in scikit-learn), since
                one batch may not hold them all.
        """
        params = self._checked_params()
        first = not hasattr(self, "model_")
        checked: tuple[np.ndarray, np.ndarray] = validate_data(
            self, X, y, dtype=params["dtype"], reset=first
        )
        X, y = checked
        if first:
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit (every label "
                    "that will ever be seen), e.g. classes=np.unique(y_all)."
                )
            self.classes_ = self._checked_classes(classes)
            self._start()
            self.model_ = self._new_network(X.shape[1], params)
        elif classes is not None and not np.array_equal(
            self._checked_classes(classes), self.classes_
        ):
            raise ValueError(
                f"classes={np.asarray(classes).tolist()!r} differs from the classes of the first "
                f"call {self.classes_.tolist()!r}."
            )
        _, encoded = self._encode(y, classes=self.classes_)
        self._one_more_epoch(X, encoded, params)
        return self

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Probability of each class, ``(N, n_classes)`` float64, columns in ``classes_`` order."""
        out = self._outputs(X)  # (N, K) or (N, 1)
        if len(self.classes_) == 2 and out.shape[1] == 1:
            return np.hstack([1.0 - out, out])  # (N, 2)
        return out / out.sum(axis=1, keepdims=True)  # float32 rows renormalised in float64

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The most probable class of each row, ``(N,)``, as labels of ``classes_``."""
        proba = self.predict_proba(X)  # first: it says NotFittedError before fit
        return self.classes_[np.argmax(proba, axis=1)]

    @classmethod
    def from_model(
        cls, model: Sequential | str | os.PathLike[str], classes: ArrayLike | None = None,
        feature_names: Sequence[str] | None = None,
        **params: Any,
    ) -> NeuralNetClassifier:
        """A fitted classifier around a trained network, e.g. one loaded from a model file.

        Args:
            model: a built :class:`~scratchnn.Sequential`, or the path of a file written by
                ``model.save`` (e.g. ``est.model_.save("net.snn")``): loaded with
                :func:`scratchnn.load_model`, safely (no pickle).
            classes: the label of each class; default ``0..K-1`` (``0, 1`` for one sigmoid unit).
            feature_names: the column names, to check DataFrames as ``fit`` would.
            **params: constructor parameters (used by ``partial_fit`` and ``get_params``).

        Example:
            >>> est.model_.save("net.snn")                                   # doctest: +SKIP
            >>> again = NeuralNetClassifier.from_model("net.snn", classes=est.classes_)
            ... # doctest: +SKIP
        """
        est = cls._from_network(model, feature_names, params)
        units = int(est.model_.output_shape[-1])
        if classes is None:
            classes = np.arange(2 if units == 1 else units)
        est.classes_ = est._checked_classes(classes)
        if len(est.classes_) != (2 if units == 1 else units):
            raise ValueError(
                f"classes has {len(est.classes_)} labels; the network has {units} output units "
                "(one sigmoid unit means two classes)."
            )
        return est

    # ------------------------------------------------------------------------------ helpers
    def _checked_classes(self, classes: Any) -> np.ndarray:
        classes = np.unique(np.asarray(classes))
        if len(classes) < 2:
            raise ValueError(
                f"A classifier needs at least two classes; received the single class "
                f"{classes.tolist()!r}."
            )
        return classes

    def _encode(self, y: np.ndarray, classes: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """``(classes, indices of y in classes)``; new classes are found, or checked."""
        check_classification_targets(y)
        if type_of_target(y) not in ("binary", "multiclass"):
            raise ValueError(
                f"NeuralNetClassifier takes one label per sample (binary or multi-class); "
                f"received targets of type {type_of_target(y)!r} with shape {np.shape(y)}."
            )
        if classes is None:
            classes = np.unique(y)
            if len(classes) < 2:
                raise ValueError(
                    f"y holds one class only ({classes[0]!r}); a classifier needs at least two "
                    "classes."
                )
        index = np.searchsorted(classes, y)
        index = np.clip(index, 0, len(classes) - 1)
        unseen = classes[index] != y
        if unseen.any():
            raise ValueError(
                f"y holds labels not in classes_ {classes.tolist()!r}: "
                f"{np.unique(np.asarray(y)[unseen]).tolist()[:5]!r}."
            )
        return classes, index.astype(np.int64)

    def _new_network(self, n_features: int, params: dict[str, Any]) -> Sequential:
        binary = len(self.classes_) == 2
        return self._build_network(
            n_features, 1 if binary else len(self.classes_), "sigmoid" if binary else "softmax",
            params,
        )  # fmt: skip

    def _accepted_outputs(self, n_outputs: int) -> tuple[int, ...]:
        return (1, 2) if n_outputs == 1 else (n_outputs,)

    def _loss_for(self, units: int) -> LossName:
        return "binary_crossentropy" if units == 1 else "sparse_categorical_crossentropy"

    def _output_rule(self) -> str:
        return (
            "outputs (1,) with a sigmoid (or (2,) with a softmax) for two classes, (K,) with a "
            "softmax for K classes"
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class NeuralNetRegressor(RegressorMixin, _NeuralNetBase):
    """A neural-network regressor with scikit-learn's interface; one or several targets.

    The parameters and attributes are those of :class:`NeuralNetClassifier` (without
    ``classes_``); the output layer has one linear unit per target and the loss is the mean
    squared error. ``predict`` returns ``(N,)`` for a 1-D ``y`` and ``(N, T)`` for a 2-D one, in
    float64. Scale the targets (``sklearn.compose.TransformedTargetRegressor``) when they are far
    from unit size.

    Example:
        >>> import numpy as np
        >>> X = np.random.default_rng(0).normal(size=(200, 3))
        >>> y = np.column_stack([X.sum(axis=1), X[:, 0] - X[:, 2]])      # two targets
        >>> reg = NeuralNetRegressor((16,), learning_rate=0.01, epochs=200, random_state=0)
        >>> reg.fit(X, y).predict(X).shape, reg.score(X, y) > 0.9
        ((200, 2), True)
    """

    _OUTPUT_KIND = "regressor"

    def fit(self, X: ArrayLike, y: ArrayLike) -> NeuralNetRegressor:
        """Train a new network on ``X`` ``(N, D)`` and targets ``y`` ``(N,)`` or ``(N, T)``."""
        params = self._checked_params()
        X, y = self._validate_Xy(X, y, params, reset=True)
        self._start()
        self.n_outputs_ = y.shape[1]
        self.model_ = self._build_network(X.shape[1], self.n_outputs_, "linear", params)
        self._train(self.model_, X, y, params["epochs"], params, None, stop=True)
        return self

    def partial_fit(self, X: ArrayLike, y: ArrayLike) -> NeuralNetRegressor:
        """One epoch on ``(X, y)``, continuing from the current weights (a new network the first
        time)."""
        params = self._checked_params()
        first = not hasattr(self, "model_")
        X, y = self._validate_Xy(X, y, params, reset=first)
        if first:
            self._start()
            self.n_outputs_ = y.shape[1]
            self.model_ = self._build_network(X.shape[1], self.n_outputs_, "linear", params)
        elif y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {y.shape[1]} targets; this regressor was fitted on {self.n_outputs_}."
            )
        self._one_more_epoch(X, y, params)
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted targets, float64: ``(N,)`` when fitted on a 1-D ``y``, else ``(N, T)``."""
        out = self._outputs(X)  # (N, T)
        return out[:, 0] if self._y_1d else out

    @classmethod
    def from_model(
        cls, model: Sequential | str | os.PathLike[str], feature_names: Sequence[str] | None = None,
        **params: Any,
    ) -> NeuralNetRegressor:
        """A fitted regressor around a trained network (a Sequential or a model file's path);
        see :meth:`NeuralNetClassifier.from_model`. One output unit predicts ``(N,)``."""
        est = cls._from_network(model, feature_names, params)
        est.n_outputs_ = int(est.model_.output_shape[-1])
        est._y_1d = est.n_outputs_ == 1
        return est

    def _validate_Xy(
        self, X: Any, y: Any, params: dict[str, Any], reset: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(
            self, X, y, reset=reset, dtype=params["dtype"], multi_output=True, y_numeric=True
        )
        if reset:
            self._y_1d = np.ndim(y) == 1
        y = np.asarray(y, dtype=params["dtype"])
        return X, y.reshape(len(y), -1)  # (N, T)

    def _loss_for(self, units: int) -> LossName:
        return "mse"

    def _output_rule(self) -> str:
        return "outputs (T,), one linear unit per target"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags



class RBMTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """An RBM as a scikit-learn transformer: ``fit`` learns it, ``transform`` gives the hidden
    probabilities (scikit-learn's ``BernoulliRBM`` interface, trained by
    :class:`scratchnn.models.RBM`).

    The parameters and attributes follow ``BernoulliRBM`` (``n_components``, ``learning_rate``,
    ``batch_size``, ``n_iter``; ``components_`` of shape ``(n_components, n_features)``,
    ``intercept_hidden_``, ``intercept_visible_``), and its default algorithm, persistent
    contrastive divergence with batches in the order of the rows; the others are
    :class:`~scratchnn.models.RBM`'s. ``model_`` is the trained RBM (save it with
    ``est.model_.save(path)``).

        >>> from sklearn.datasets import load_digits
        >>> from sklearn.linear_model import LogisticRegression
        >>> from sklearn.pipeline import make_pipeline
        >>> X, y = load_digits(return_X_y=True)
        >>> rbm = RBMTransformer(n_components=64, learning_rate=0.1, n_iter=10, random_state=0)
        >>> pipe = make_pipeline(rbm, LogisticRegression(solver="newton-cg"))
        >>> pipe.fit(X / 16, y).score(X / 16, y) > 0.85
        True

    Args:
        n_components: hidden units.
        learning_rate: SGD step.
        batch_size: rows per update.
        n_iter: passes over the data.
        k: Gibbs steps per update.
        persistent: persistent CD (``True``, as ``BernoulliRBM``) or CD-k.
        momentum, weight_decay, visible: as for :class:`~scratchnn.models.RBM`.
        shuffle: reshuffle the rows every pass (``BernoulliRBM`` does not).
        random_state: ``None``, an int, a ``RandomState`` or a ``Generator``.
        verbose: 0 silent, 1 a progress bar, 2 a line per pass.
        dtype: ``"float32"`` or ``"float64"``.
    """

    def __init__(
        self,
        n_components: int = 256,
        learning_rate: float = 0.1,
        batch_size: int = 10,
        n_iter: int = 10,
        k: int = 1,
        persistent: bool = True,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        visible: str = "bernoulli",
        shuffle: bool = False,
        random_state: Any = None,
        verbose: int = 0,
        dtype: str = "float32",
    ) -> None:
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.k = k
        self.persistent = persistent
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.visible = visible
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype

    def fit(self, X: Any, y: Any = None) -> RBMTransformer:
        """Train an RBM on ``X`` (rows of features in [0, 1] for Bernoulli units)."""
        dtype = backend.resolve_dtype(cast("backend.DTypeName", self.dtype))  # checked there
        X = validate_data(self, X, dtype=dtype)
        if self.verbose not in (0, 1, 2, False, True):
            raise ValueError(f"verbose must be 0, 1 or 2; received verbose={self.verbose!r}.")
        self.model_ = RBM(
            _check_positive_int(self.n_components, "n_components"), X.shape[1],
            visible=self.visible, k=self.k, persistent=self.persistent,
            learning_rate=self.learning_rate, momentum=self.momentum,
            weight_decay=self.weight_decay, dtype=dtype, seed=_seed(self.random_state),
        )
        history = self.model_.fit(
            X, batch_size=_check_positive_int(self.batch_size, "batch_size"),
            epochs=_check_positive_int(self.n_iter, "n_iter"), shuffle=bool(self.shuffle),
            verbose=cast("Literal[0, 1, 2]", int(self.verbose)),  # checked above
        )
        self.history_ = {k: [float(v) for v in values] for k, values in history.history.items()}
        weights = self.model_.rbm.weights
        self.components_ = np.array(weights["kernel"].data.T, dtype=np.float64)
        self.intercept_hidden_ = np.array(weights["hidden_bias"].data, dtype=np.float64)
        self.intercept_visible_ = np.array(weights["visible_bias"].data, dtype=np.float64)
        self._n_features_out = self.components_.shape[0]
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Hidden probabilities ``p(h = 1 | X)``, ``(n_samples, n_components)``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=self.model_.dtype)
        return np.asarray(self.model_.transform(X), dtype=np.float64)

    def score_samples(self, X: Any) -> np.ndarray:
        """Pseudo-likelihood of each row, as ``BernoulliRBM.score_samples``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=self.model_.dtype)
        return np.asarray(self.model_.score_samples(X), dtype=np.float64)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = []
        return tags
