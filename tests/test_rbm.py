"""RBMs and deep belief nets: contrastive divergence by the formula, scikit-learn's free energy and
pseudo-likelihood, training on digits, DBN fine-tuning from the RBM weights, files and pipelines.

The hand-computed updates replay the model's random draws from a copy of its generator, in the
order the RBM documents (per Gibbs step: ``rng.random`` for the hidden sample, then for the
visible one).
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import scratchnn
from scratchnn import datasets, io
from scratchnn.models import DBN, RBM, Sequential
from scratchnn.models.rbm import PseudoLikelihood
from scratchnn.sklearn import RBMTransformer


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def tiny_rbm(**kwargs) -> RBM:
    rbm = RBM(2, 3, dtype="float64", seed=3, **kwargs)
    rng = np.random.default_rng(11)
    rbm.set_weights([rng.normal(size=(3, 2)), rng.normal(size=2), rng.normal(size=3)])
    return rbm


X_TINY = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])


def cd_by_hand(w, c, b, x, rng, k=1, chain=None):
    """The positive and negative statistics of CD-k (or PCD from ``chain``), written out."""
    p0 = sigmoid(x @ w + c)
    h = chain if chain is not None else (rng.random(p0.shape) < p0).astype(float)
    for step in range(k):
        v = (rng.random((len(h), len(b))) < sigmoid(h @ w.T + b)).astype(float)
        p = sigmoid(v @ w + c)
        if chain is not None or step < k - 1:
            h = (rng.random(p.shape) < p).astype(float)
    grads = (
        v.T @ p / len(v) - x.T @ p0 / len(x),  # of the negative log-likelihood
        p.mean(axis=0) - p0.mean(axis=0),
        v.mean(axis=0) - x.mean(axis=0),
    )
    return grads, h


# --------------------------------------------------------------------- contrastive divergence
def test_cd1_update_equals_the_formula_computed_by_hand():
    rbm = tiny_rbm(learning_rate=0.5)
    w, c, b = rbm.get_weights()
    rng = copy.deepcopy(rbm._rng)
    error = rbm.train_on_batch(X_TINY, return_dict=True)["reconstruction_error"]
    grads, _ = cd_by_hand(w, c, b, X_TINY, rng)
    for got, before, grad in zip(rbm.get_weights(), (w, c, b), grads, strict=True):
        np.testing.assert_allclose(got, before - 0.5 * grad, rtol=0, atol=1e-12)
    recon = sigmoid(sigmoid(X_TINY @ w + c) @ w.T + b)
    assert error == pytest.approx(np.mean((X_TINY - recon) ** 2), abs=1e-12)


def test_cd2_with_momentum_and_weight_decay_over_two_steps():
    rbm = tiny_rbm(k=2, learning_rate=0.2, momentum=0.5, weight_decay=0.01)
    w, c, b = rbm.get_weights()
    rng = copy.deepcopy(rbm._rng)
    velocity = [np.zeros_like(a) for a in (w, c, b)]
    params = [w, c, b]
    for _ in range(2):
        rbm.train_on_batch(X_TINY)
        grads, _ = cd_by_hand(*params, X_TINY, rng, k=2)
        grads = (grads[0] + 0.01 * params[0], grads[1], grads[2])  # decay on the kernel only
        velocity = [0.5 * v + g for v, g in zip(velocity, grads, strict=True)]  # torch's SGD
        params = [p - 0.2 * v for p, v in zip(params, velocity, strict=True)]
    for got, want in zip(rbm.get_weights(), params, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_persistent_cd_carries_its_chain_from_step_to_step():
    rbm = tiny_rbm(persistent=True, learning_rate=0.3)
    params = rbm.get_weights()
    rng = copy.deepcopy(rbm._rng)
    chain = np.zeros((2, 2))  # the chain starts from zeros, as scikit-learn's
    for _ in range(3):
        rbm.train_on_batch(X_TINY)
        grads, chain = cd_by_hand(*params, X_TINY, rng, chain=chain)
        params = [p - 0.3 * g for p, g in zip(params, grads, strict=True)]
    for got, want in zip(rbm.get_weights(), params, strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    rbm.reset_chain()
    assert not rbm._chain


# ------------------------------------------------------------------ scikit-learn's definitions
def sklearn_twin(rbm: RBM) -> BernoulliRBM:
    w, c, b = rbm.get_weights()
    twin = BernoulliRBM(n_components=w.shape[1], random_state=7)
    twin.fit(np.zeros((2, w.shape[0])))  # makes the attributes; then set to ours
    twin.components_, twin.intercept_hidden_, twin.intercept_visible_ = w.T.copy(), c, b
    return twin


def test_free_energy_and_pseudo_likelihood_match_scikit_learn_given_the_same_weights():
    rng = np.random.default_rng(0)
    rbm = RBM(5, 12, dtype="float64", seed=0)
    rbm.set_weights([rng.normal(size=(12, 5)), rng.normal(size=5), rng.normal(size=12)])
    twin = sklearn_twin(rbm)
    x = (rng.random((30, 12)) < 0.4).astype(float)
    np.testing.assert_allclose(rbm.free_energy(x), twin._free_energy(x), rtol=1e-12)
    # scikit-learn flips the feature drawn by RandomState(random_state).randint(0, V, N)
    index = np.random.RandomState(7).randint(0, 12, 30)
    np.testing.assert_allclose(rbm.score_samples(x, index=index), twin.score_samples(x),
                               rtol=1e-12)
    assert rbm.score_samples(x).shape == (30,)  # its own draw otherwise
    np.testing.assert_allclose(rbm.transform(x), twin.transform(x), rtol=1e-12)


def test_reconstruction_error_falls_over_training_on_digits():
    X, _ = datasets.load_digits()
    x = X / 16.0
    rbm = RBM(64, learning_rate=0.1, momentum=0.5, seed=0)
    rbm.build((64,))
    before = np.mean((x - rbm.reconstruct(x)) ** 2)
    history = rbm.fit(x, batch_size=20, epochs=6, verbose=0,
                      callbacks=[PseudoLikelihood(x[:300])]).history
    errors = history["reconstruction_error"]
    after = np.mean((x - rbm.reconstruct(x)) ** 2)
    assert errors[-1] < 0.6 * errors[0] and after < 0.5 * before
    assert all(b < a for a, b in itertools.pairwise(errors))
    assert history["pseudo_likelihood"][-1] > history["pseudo_likelihood"][0]
    assert rbm.evaluate(x, return_dict=True)["reconstruction_error"] == pytest.approx(after,
                                                                                      rel=1e-5)


def test_gaussian_visible_units_learn_real_valued_data():
    rng = np.random.default_rng(1)
    basis = rng.normal(size=(3, 10))
    x = (rng.random((400, 3)) < 0.5) @ basis + 0.1 * rng.normal(size=(400, 10))
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    rbm = RBM(8, visible="gaussian", learning_rate=0.01, momentum=0.5, seed=0)
    errors = rbm.fit(x, batch_size=20, epochs=15, verbose=0).history["reconstruction_error"]
    assert errors[-1] < 0.7 * errors[0]
    assert np.isfinite(rbm.free_energy(x)).all()
    assert not set(np.unique(rbm.gibbs(x[:5], steps=2))) <= {0.0, 1.0}  # real-valued samples
    with pytest.raises(ValueError, match="Bernoulli"):
        rbm.score_samples(x)


def test_gibbs_samples_are_binary_and_drawn_from_the_models_generator():
    x = (np.random.default_rng(0).random((6, 9)) < 0.5).astype("float32")
    a, b = RBM(4, 9, seed=5), RBM(4, 9, seed=5)
    sa, sb = a.gibbs(x, steps=3), b.gibbs(x, steps=3)
    np.testing.assert_array_equal(sa, sb)
    assert sa.shape == (6, 9) and set(np.unique(sa)) <= {0.0, 1.0}


def test_bad_arguments_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="visible must be one of"):
        RBM(3, visible="poisson")
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        RBM(3, k=0)
    with pytest.raises(ValueError, match="momentum"):
        RBM(3, momentum=1.0)
    with pytest.raises(ValueError, match="Flatten"):
        RBM(3).fit(np.zeros((4, 2, 2)), verbose=0)
    rbm = RBM(3, 4, seed=0)
    with pytest.raises(ValueError, match="expects x of shape"):
        rbm.transform(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="index must hold one feature index"):
        rbm.score_samples(np.zeros((2, 4)), index=[0, 9])


# ------------------------------------------------------------------------------ deep belief nets
def test_dbn_pretrains_greedily_and_fine_tuning_starts_from_exactly_the_rbm_weights():
    X, y = datasets.load_digits()
    x = X / 16.0
    dbn = DBN((32, 16), learning_rate=0.1, seed=0)
    histories = dbn.fit(x, batch_size=20, epochs=[3, 2], verbose=0)
    assert [len(h.history["reconstruction_error"]) for h in histories] == [3, 2]
    assert dbn.rbms[1].n_visible == 32  # the second RBM saw the first's hidden units
    np.testing.assert_allclose(dbn.transform(x[:5]),
                               dbn.rbms[1].transform(dbn.rbms[0].transform(x[:5])), rtol=1e-6)
    net = dbn.to_model(10, seed=1)
    assert isinstance(net, Sequential) and [la.units for la in net.layers] == [32, 16, 10]
    for layer, rbm in zip(net.layers, dbn.rbms, strict=False):
        assert layer.activation.__name__ == "sigmoid"
        np.testing.assert_array_equal(layer.weights["kernel"].data, rbm.rbm.weights["kernel"].data)
        np.testing.assert_array_equal(layer.weights["bias"].data,
                                      rbm.rbm.weights["hidden_bias"].data)
        assert layer.weights["kernel"].data is not rbm.rbm.weights["kernel"].data  # copies
    np.testing.assert_allclose(net.layers[1](net.layers[0](x[:5])).numpy(),
                               dbn.transform(x[:5]), rtol=1e-6)
    net.compile(optimizer={"name": "adam", "learning_rate": 0.01},
                loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = dbn.rbms[0].get_weights()[0].copy()
    history = net.fit(x, y, batch_size=32, epochs=8, verbose=0)
    assert history.history["accuracy"][-1] > 0.9  # the ordinary loop trains it
    np.testing.assert_array_equal(dbn.rbms[0].get_weights()[0], before)  # the DBN is untouched
    with pytest.raises(ValueError, match="needs a built DBN"):
        DBN((4,)).to_model(2)


# ----------------------------------------------------------------------------- files, pipelines
@pytest.mark.parametrize("make", [
    lambda: RBM(6, persistent=True, momentum=0.5, seed=0),
    lambda: RBM(6, visible="gaussian", seed=0),
    lambda: DBN((6, 4), seed=0),
])  # fmt: skip
def test_save_and_load_round_trip_bit_for_bit(tmp_path, make):
    x = (np.random.default_rng(0).random((50, 10)) < 0.5).astype("float32")
    model = make()
    model.fit(x, batch_size=10, epochs=2, verbose=0)
    path = tmp_path / "model.snn"
    model.save(path)
    found = io.read_file(path)  # safetensors and JSON; nothing executed
    assert found.header["model_class"] == type(model).__name__
    loaded = scratchnn.load_model(path)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    for (name, a), (name_b, b) in zip(model.weight_dict().items(), loaded.weight_dict().items(),
                                      strict=True):
        assert name == name_b and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.transform(x), model.transform(x))
    if isinstance(model, RBM):  # compiled again, with the momentum buffers
        assert loaded.optimizer.get_config() == model.optimizer.get_config()
        for key, value in model.optimizer.get_state().items():
            np.testing.assert_array_equal(loaded.optimizer.get_state()[key], value)


def test_rbm_transformer_is_the_first_step_of_a_pipeline():
    X, y = datasets.load_digits()
    x = X / 16.0
    pipe = make_pipeline(RBMTransformer(n_components=64, learning_rate=0.1, n_iter=10,
                                        random_state=0), LogisticRegression(solver="newton-cg"))
    assert pipe.fit(x, y).score(x, y) > 0.85
    rbm = pipe[0]
    assert rbm.components_.shape == (64, 64) and rbm.transform(x).shape == (len(x), 64)
    assert list(rbm.get_feature_names_out())[:2] == ["rbmtransformer0", "rbmtransformer1"]
    np.testing.assert_allclose(rbm.transform(x[:3]), rbm.model_.transform(x[:3]), rtol=1e-6)
    again = clone(pipe).fit(x, y)  # the same seed, the same features
    np.testing.assert_array_equal(again[0].components_, rbm.components_)


@parametrize_with_checks(
    [RBMTransformer(n_components=8, n_iter=3, random_state=0)],
    expected_failed_checks=lambda est: {
        # as scikit-learn's own BernoulliRBM: the pseudo-likelihood flips one random feature
        # per row, so it depends on the rows' order and on the rows scored together
        "check_methods_subset_invariance": "score_samples draws a random feature per row",
        "check_methods_sample_order_invariance": "score_samples draws a random feature per row",
    },
)
def test_rbm_transformer_passes_scikit_learns_checks(estimator, check):
    check(estimator)
