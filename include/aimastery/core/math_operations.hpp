#pragma once
/// \file
/// The seed module `core.math_operations`: vectors, matrices, decompositions, PCA and activations.

#include "aimastery/core/linalg/activations.hpp"
