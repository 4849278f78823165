#pragma once
/// \file
/// Every optimiser, the learning-rate schedules and gradient clipping.

#include "aimastery/ml/deep_learning/adam.hpp"
#include "aimastery/ml/deep_learning/gradient_clipping.hpp"
#include "aimastery/ml/deep_learning/optimizer.hpp"
#include "aimastery/ml/deep_learning/rmsprop.hpp"
#include "aimastery/ml/deep_learning/schedules.hpp"
#include "aimastery/ml/deep_learning/sgd.hpp"
