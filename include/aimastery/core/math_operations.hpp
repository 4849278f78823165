#pragma once
/// \file
/// The seed module `core.math_operations`: vectors, matrices, decompositions, PCA and activations.

#include "aimastery/core/linalg/activations.hpp"
#include "aimastery/core/linalg/covariance.hpp"
#include "aimastery/core/linalg/matmul.hpp"
#include "aimastery/core/linalg/matrix_basics.hpp"
#include "aimastery/core/linalg/packed_matrix.hpp"
#include "aimastery/core/linalg/pca.hpp"
#include "aimastery/core/linalg/power_iteration.hpp"
#include "aimastery/core/linalg/qr.hpp"
#include "aimastery/core/linalg/symmetric_eigen.hpp"
#include "aimastery/core/linalg/vector_ops.hpp"
