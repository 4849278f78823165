#pragma once
/// \file
/// The seed module `ml.classical`: from-scratch estimators with scikit-learn's contract, and the metrics,
/// model selection and preprocessing around them.

#include "aimastery/ml/classical/decision_tree.hpp"
#include "aimastery/ml/classical/gaussian_nb.hpp"
#include "aimastery/ml/classical/knn.hpp"
#include "aimastery/ml/classical/label_encoding.hpp"
#include "aimastery/ml/classical/linear_regression.hpp"
#include "aimastery/ml/classical/logistic_regression.hpp"
#include "aimastery/ml/classical/metrics.hpp"
#include "aimastery/ml/classical/model_selection.hpp"
#include "aimastery/ml/classical/preprocessing.hpp"
#include "aimastery/ml/classical/random_forest.hpp"
#include "aimastery/ml/classical/validation.hpp"
