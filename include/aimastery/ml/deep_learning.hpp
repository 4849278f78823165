#pragma once
/// \file
/// The seed module `ml.deep_learning`: layers, losses, optimisers, the Sequential NeuralNetwork and
/// its safetensors files.

#include "aimastery/ml/deep_learning/activation.hpp"
#include "aimastery/ml/deep_learning/batch_normalization.hpp"
#include "aimastery/ml/deep_learning/dense.hpp"
#include "aimastery/ml/deep_learning/dropout.hpp"
#include "aimastery/ml/deep_learning/gradient_check.hpp"
#include "aimastery/ml/deep_learning/layer.hpp"
#include "aimastery/ml/deep_learning/losses.hpp"
#include "aimastery/ml/deep_learning/neural_network.hpp"
#include "aimastery/ml/deep_learning/neural_network_io.hpp"
#include "aimastery/ml/deep_learning/optimizers.hpp"
#include "aimastery/ml/deep_learning/training.hpp"
