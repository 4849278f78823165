// Tour section: ml.classical — every estimator cross-validated on the bundled data, beside scikit-learn's figure.
#include <aimastery/io/csv.hpp>
#include <aimastery/ml/classical.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

#include "tour.hpp"

AIMASTERY_TOUR_SECTION(30, "ml.classical: from-scratch estimators against scikit-learn") {
  using namespace aimastery;
  const char* names[] = {"iris", "wine", "breast_cancer", "digits"};
  CsvDataset<double> data[4];
  for (int d = 0; d < 4; ++d) data[d] = read_csv<double>(data_dir + "/" + names[d] + ".csv");

  // One row per estimator: its 5-fold stratified CV accuracy (shuffled, seed 0) on each dataset, and the
  // scikit-learn 1.2.1 figure for the same protocol (REFERENCE.md) in brackets. "(std)": standardised inside
  // each fold with the training part's statistics.
  using Score = std::function<double(const Matrix<double>&, const IndexVector&)>;
  auto cv = [](auto make) -> Score {
    return [make](const Matrix<double>& X, const IndexVector& y) {
      return cross_val_score(make, X, y, KFoldParams{.n_splits = 5, .shuffle = true, .seed = 0}).mean();
    };
  };
  struct Row {
    const char* name;
    Score score;
    double sklearn[4];
  };
  const Row rows[] = {
      {"LogisticRegression (std)",
       cv([] { return StandardScaled<LogisticRegressionScratch<double>>(); }),
       {.960, .983, .979, .969}},
      {"GaussianNB", cv([] { return GaussianNBScratch<double>(); }), {.960, .972, .939, .851}},
      {"KNN k=5 (std)",
       cv([] { return StandardScaled<KNNScratch<double>>(KNNScratch<double>({.k = 5})); }),
       {.953, .961, .965, .977}},
      {"DecisionTree", cv([] { return DecisionTreeScratch<double>(); }), {.933, .927, .926, .859}},
      {"RandomForest 100 trees",
       cv([] { return RandomForestScratch<double>({.n_estimators = 100}); }),
       {.940, .972, .965, .973}},
  };
  std::printf("5-fold stratified CV accuracy, ours [scikit-learn 1.2.1]:\n");
  std::printf("  %-26s %-16s %-16s %-16s %-16s %s\n", "", names[0], names[1], names[2], names[3], "seconds");
  for (const Row& row : rows) {
    const auto start = std::chrono::steady_clock::now();
    std::printf("  %-26s", row.name);
    for (int d = 0; d < 4; ++d) {
      const double accuracy = row.score(data[d].X, data[d].labels());
      std::printf(" %.3f [%.3f]    ", accuracy, row.sklearn[d]);
    }
    std::printf(" %.2f\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }

  // Regression: LinearRegression on diabetes (scikit-learn: training R² 0.5177, 5-fold CV R² 0.489).
  const auto diabetes = read_csv<double>(data_dir + "/diabetes.csv");
  LinearRegressionScratch<double> ols;
  ols.fit(diabetes.X, diabetes.y);
  const Vector<double> r2 = cross_val_score([] { return LinearRegressionScratch<double>(); }, diabetes.X, diabetes.y,
                                            KFoldParams{.n_splits = 5, .shuffle = true, .seed = 0});
  std::printf("LinearRegression on diabetes: training R² %.4f [0.5177], 5-fold CV R² %.3f [0.489]\n",
              static_cast<double>(ols.score(diabetes.X, diabetes.y)), r2.mean());
  LinearRegressionScratch<double> lasso({.penalty = Penalty::l1, .alpha = 0.5});
  lasso.fit(diabetes.X, diabetes.y);
  std::printf("Lasso alpha=0.5 keeps %ld of %ld coefficients non-zero\n",
              static_cast<long>((lasso.coefficients().array() != 0).count()), static_cast<long>(diabetes.X.cols()));

  // Metrics on a held-out quarter of breast_cancer.
  const auto& cancer = data[2];
  const auto split = train_test_split(cancer.X, cancer.labels(), {.test_size = 0.25, .stratify = true, .seed = 1});
  StandardScaled<LogisticRegressionScratch<double>> model;
  model.fit(split.X_train, split.y_train);
  const IndexVector predicted = model.predict(split.X_test);
  const Matrix<double> proba = model.predict_proba(split.X_test);
  std::printf("breast_cancer held out (%ld rows): accuracy %.3f, F1 (macro) %.3f, ROC AUC %.4f, log loss %.4f\n",
              static_cast<long>(split.y_test.size()), accuracy_score(split.y_test, predicted),
              f1_score(split.y_test, predicted), roc_auc_score(split.y_test, Vector<double>(proba.col(1))),
              log_loss(split.y_test, proba));
}
