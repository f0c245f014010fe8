"""The five tutorials the studies reproduce, and where each tutorial states each figure.

The report prints these beside our values, so that a reader can tell what is compared with what
without the tutorials at hand (they are Russian, Chinese, Spanish and Vietnamese web pages).

    >>> TUTORIALS["000"].language
    'Russian'
    >>> FIGURE_SOURCES["000 fresh-draw accuracy of the chosen config"][:33]
    'its last step: the chosen network'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tutorial:
    """One tutorial: its title (in English), language, where it comes from, what it does."""

    title: str
    language: str
    origin: str
    summary: str


TUTORIALS: dict[str, Tutorial] = {
    "000": Tutorial(
        "Build a two-layer neural network from scratch", "Russian", "a DevGang article",
        "A 2 → n_h → 1 network in NumPy on make_moons(N=2000, noise=0.25), weights randn·0.01, "
        "full-batch gradient descent; a grid of 420 trainings (7 hidden sizes × 3 activations "
        "× 5 learning rates × 4 iteration counts), filtered to dev accuracy above 95 % with a "
        "train-dev gap of at most 1 % and under 30 s; the fastest, n_h=3 tanh lr 0.6 10 000 "
        "iterations, scores 93.6 % on a fresh draw of 500 points.",
    ),
    "001": Tutorial(
        "Building a neural network from scratch in Python", "Chinese",
        "a translation of the wildml.com post “Implementing a Neural Network from Scratch”",
        "make_moons(200, noise=0.20); logistic regression cannot follow the moons; a 2-3-2 "
        "tanh/softmax network trained by batch gradient descent (lr 0.01, L2 0.01, 20 000 "
        "passes) can; boundaries for hidden sizes 1-50; five exercises (mini-batches, an "
        "annealed learning rate, other activations, three classes, a fourth layer).",
    ),
    "002": Tutorial(
        "Neural networks tutorial, step by step", "Russian",
        "a translation of adventuresinmachinelearning.com's neural networks tutorial",
        "A forward pass as nested loops (~41 ms) against vectorised (~84 µs) on 100-100-50-10; "
        "gradient descent on x⁴ − 3x³ + 2 finding 2.249965; scikit-learn's digits with a "
        "64-30-10 sigmoid network, 3000 iterations of α = 0.25: 86 % test accuracy, which it "
        "calls rather low.",
    ),
    "003": Tutorial(
        "Create a neural network from scratch in Python: adding hidden layers", "Spanish",
        "part 2 of a stackabuse.com series",
        "make_moons(100, noise=0.10): a perceptron whose summed ½·squared error will not go "
        "below about 4.17, and a 2-4-1 sigmoid network without biases whose error falls to "
        "about 1.50.",
    ),
    "004": Tutorial(
        "Python deep learning: a quick guide", "Vietnamese", "tutorialspoint",
        "Concepts, a computational graph worked by hand (g = −12 and its gradients), two "
        "forward-propagation exercises (−3 and 364), a Keras churn model on "
        "Churn_Modelling.csv (85.8 % accuracy, confusion matrix [[1541, 54], [230, 175]], one "
        "customer's prediction), and dropout, early stopping, data augmentation, transfer "
        "learning, convolutional and recurrent networks, RBMs, deep belief nets, autoencoders, "
        "GANs and vanishing gradients described.",
    ),
}
"""Study number -> the tutorial it reproduces."""

FIGURE_SOURCES: dict[str, str] = {
    "000 fresh-draw accuracy of the chosen config":
        "its last step: the chosen network on a fresh make_moons(500, noise=0.25)",
    "000 grid configs above 95 %": "its analysis of the 420-run grid: several exceed 95 %",
    "000 fastest config passing the filter":
        "its analysis: the fastest configuration that passes its filter",
    "000 accuracy vs training time plot": "its plot of the grid's accuracy against time",
    "000 decision boundary of the chosen config": "its plot of the chosen network",
    "001 logistic-regression baseline": "its first plot: scikit-learn's logistic regression",
    "001 3-layer network vs logistic regression": "its network's boundary, hidden size 3",
    "001 decision boundaries for hidden sizes 1, 2, 3, 4, 5, 20, 50":
        "its grid of boundaries by hidden size",
    "001 exercise 1: mini-batch gradient descent": "its closing exercises (no figure given)",
    "001 exercise 2: annealed learning rate": "its closing exercises (no figure given)",
    "001 exercise 3: other activations": "its closing exercises (no figure given)",
    "001 exercise 4: three classes": "its closing exercises (no figure given)",
    "001 exercise 5: a fourth layer": "its closing exercises (no figure given)",
    "002 forward pass: nested loops vs vectorised (100-100-50-10)":
        "its timing of the two forward passes",
    "002 gradient descent on x⁴ − 3x³ + 2": "its gradient-descent example's printout",
    "002 digits, tutorial recipe (64-30-10 sigmoid)": "its final test accuracy on digits",
    "002 digits, better recipe (≥ 97 %)": "its remark that 86 % is low (99.7 % is possible)",
    "002 cost curves": "its plot of the average cost per iteration",
    "003 perceptron summed ½·squared error plateau": "its perceptron's error printout",
    "003 one hidden layer (2-4-1) summed ½·squared error": "its hidden-layer error printout",
    "003 error curves and boundaries": "its printed error per epoch",
    "004 computational graph p = x + y, g = p·z": "its worked backpropagation example",
    "004 forward propagation, one hidden relu layer": "its first forward-propagation exercise",
    "004 forward propagation, two hidden relu layers":
        "its second forward-propagation exercise",
    "004 churn test accuracy": "its Keras churn model's test accuracy",
    "004 churn confusion matrix": "its Keras churn model's confusion matrix",
    "004 churn one-customer prediction": "its prediction for one new customer",
    "004 dropout": "its description of dropout (no figure given)",
    "004 early stopping": "its description of early stopping (no figure given)",
    "004 data augmentation (shifted images)": "its description of augmentation (no figure)",
    "004 CNN on shifted images":
        "its description of convolutional networks (no figure given)",
    "004 transfer learning": "its description of transfer learning (no figure given)",
    "004 recurrent network: character LSTM validation loss":
        "its description of recurrent networks and LSTMs (no figure given)",
    "004 recurrent network: generated text":
        "its description of recurrent networks: the next element from what came before",
    "004 RBM features vs scikit-learn's BernoulliRBM":
        "its description of RBMs (no figure given); the reference is scikit-learn's own RBM "
        "recipe for digits, run beside ours",
    "004 deep belief net with few labels":
        "its description of deep belief nets: greedy RBM pretraining, fine-tuning on few labels",
    "004 RBM filters and Gibbs samples":
        "its description of RBMs: a forward pass encodes, a backward pass reconstructs",
    "004 autoencoders vs PCA":
        "its description of autoencoders (dimensionality reduction); the reference is PCA with "
        "the same code size",
    "004 denoising autoencoder and 2-D code space":
        "its description of autoencoders (no figure given)",
    "004 GAN sample quality (classifier score, Fréchet distance)":
        "its description of GANs (no figure given); judged by a digit classifier trained here",
    "004 GAN samples over training (grids and GIF)":
        "its description of GANs: random numbers in, handwritten digits out",
    "004 vanishing gradients: sigmoid vs ReLU + He vs DBN-initialised":
        "its description of vanishing gradients and of pretraining as the remedy (no figure)",
}
"""Figure name -> where its tutorial states the value it is compared with."""
