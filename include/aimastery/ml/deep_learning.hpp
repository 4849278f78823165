#pragma once
/// \file
/// The seed module `ml.deep_learning`: layers, losses, optimisers and the Sequential NeuralNetwork.

#include "aimastery/ml/deep_learning/layer.hpp"
