// Metrics, model selection and preprocessing against scikit-learn 1.2.1 (tests/reference/gen_classical_linear.py),
// and the 5-fold cross-validated accuracy of the linear models and naive Bayes against REFERENCE.md's protocol.
#include "aimastery/io/csv.hpp"
#include "aimastery/ml/classical/gaussian_nb.hpp"
#include "aimastery/ml/classical/linear_regression.hpp"
#include "aimastery/ml/classical/logistic_regression.hpp"
#include "aimastery/ml/classical/metrics.hpp"
#include "aimastery/ml/classical/model_selection.hpp"
#include "aimastery/ml/classical/preprocessing.hpp"
#include "ml/classical/conformance.hpp"
#include "support.hpp"

#include <set>

using namespace aimastery;
using aimastery::test::data_path;
using aimastery::test::json_matrix;
using aimastery::test::json_vector;
using aimastery::test::load_reference;
using aimastery::test::max_relative_error;

namespace {

IndexVector json_indices(const nlohmann::json& j) {
  IndexVector v(static_cast<Index>(j.size()));
  for (Index i = 0; i < v.size(); ++i) v(i) = j[static_cast<std::size_t>(i)].get<Index>();
  return v;
}

double ref_number(const nlohmann::json& j) { return j.get<double>(); }

}  // namespace

TEST_CASE("metrics equal scikit-learn's on fixed inputs") {
  const auto r = load_reference("classical_metrics.json");
  const IndexVector y_true = json_indices(r["y_true"]), y_pred = json_indices(r["y_pred"]);
  CHECK(accuracy_score(y_true, y_pred) == doctest::Approx(ref_number(r["accuracy"])).epsilon(1e-15));
  const ConfusionMatrix cm = confusion_matrix(y_true, y_pred);
  CHECK(cm.labels == json_indices(r["confusion_labels"]));
  const Matrix<double> expected_counts = json_matrix<double>(r["confusion"]);
  CHECK(cm.counts.cast<double>() == expected_counts);
  const std::pair<const char*, Average> averages[] = {
      {"macro", Average::macro}, {"weighted", Average::weighted}, {"micro", Average::micro}};
  for (const auto& [name, average] : averages) {
    const auto& case_name = name;  // a structured binding: clang 14's lambdas cannot capture it
    CAPTURE(case_name);
    CHECK(precision_score(y_true, y_pred, average) ==
          doctest::Approx(ref_number(r[std::string("precision_") + name])).epsilon(1e-14));
    CHECK(recall_score(y_true, y_pred, average) ==
          doctest::Approx(ref_number(r[std::string("recall_") + name])).epsilon(1e-14));
    CHECK(f1_score(y_true, y_pred, average) ==
          doctest::Approx(ref_number(r[std::string("f1_") + name])).epsilon(1e-14));
  }
  const Vector<double> score = json_vector<double>(r["binary_score"]);
  CHECK(roc_auc_score(json_indices(r["binary_true"]), score) ==
        doctest::Approx(ref_number(r["roc_auc"])).epsilon(1e-14));
  CHECK(log_loss(json_indices(r["proba_labels"]), json_matrix<double>(r["proba"])) ==
        doctest::Approx(ref_number(r["log_loss"])).epsilon(1e-13));
  const Vector<double> reg_true = json_vector<double>(r["reg_true"]), reg_pred = json_vector<double>(r["reg_pred"]);
  CHECK(mean_squared_error(reg_true, reg_pred) == doctest::Approx(ref_number(r["mse"])).epsilon(1e-14));
  CHECK(mean_absolute_error(reg_true, reg_pred) == doctest::Approx(ref_number(r["mae"])).epsilon(1e-14));
  CHECK(r2_score(reg_true, reg_pred) == doctest::Approx(ref_number(r["r2"])).epsilon(1e-14));
}

TEST_CASE("metrics: closed-form facts and bad inputs") {
  IndexVector a(4), b(4), c(3);
  a << 1, 1, 2, 2;
  b << 1, 2, 2, 2;
  c << 1, 2, 3;
  CHECK(accuracy_score(a, a) == 1.0);
  CHECK(r2_score(Vector<double>::Constant(3, 2.0), Vector<double>::Constant(3, 2.0)) == 1.0);
  CHECK(r2_score(Vector<double>::Constant(3, 2.0), Vector<double>::Constant(3, 1.0)) == 0.0);
  Vector<double> perfect(4);
  perfect << 0.1, 0.2, 0.8, 0.9;
  CHECK(roc_auc_score(a, perfect) == 1.0);
  CHECK(roc_auc_score(a, Vector<double>::Zero(4)) == 0.5);
  const IndexVector empty(0);
  CHECK_THROWS_NAMING(static_cast<void>(accuracy_score(a, c)), InvalidArgument,
                      "accuracy_score: y_true has 4 elements but y_pred has 3");
  CHECK_THROWS_NAMING(static_cast<void>(accuracy_score(empty, empty)), InvalidArgument,
                      "accuracy_score: y_true is empty");
  CHECK_THROWS_NAMING(static_cast<void>(confusion_matrix(a, c)), InvalidArgument, "confusion_matrix");
  CHECK_THROWS_NAMING(static_cast<void>(precision_score(a, c)), InvalidArgument, "precision_score");
  CHECK_THROWS_NAMING(static_cast<void>(recall_score(empty, empty)), InvalidArgument, "recall_score");
  CHECK_THROWS_NAMING(static_cast<void>(f1_score(a, c, Average::weighted)), InvalidArgument, "f1_score");
  CHECK_THROWS_NAMING(static_cast<void>(roc_auc_score(c, Vector<double>::Zero(3))), InvalidArgument,
                      "exactly two classes");
  CHECK_THROWS_NAMING(static_cast<void>(roc_auc_score(a, Vector<double>::Zero(3))), InvalidArgument, "roc_auc_score");
  Vector<double> nan_scores = perfect;
  nan_scores(0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_NAMING(static_cast<void>(roc_auc_score(a, nan_scores)), InvalidArgument, "NaN");
  Matrix<double> proba(4, 2);
  proba << 0.9, 0.1, 0.6, 0.4, 0.2, 0.8, 0.1, 0.9;
  CHECK(log_loss(a, proba) > 0.0);
  CHECK_THROWS_NAMING(static_cast<void>(log_loss(a, Matrix<double>(proba.leftCols(1)))), InvalidArgument,
                      "1 columns but there are 2 classes");
  CHECK_THROWS_NAMING(static_cast<void>(log_loss(c, Matrix<double>(proba.topRows(3)))), InvalidArgument, "log_loss");
  IndexVector unknown_classes(2);
  unknown_classes << 1, 5;
  CHECK_THROWS_NAMING(static_cast<void>(log_loss(a, proba, unknown_classes)), InvalidArgument,
                      "label 2 is not one of the classes");
  const Vector<double> three = Vector<double>::Ones(3), four = Vector<double>::Ones(4);
  CHECK_THROWS_NAMING(static_cast<void>(mean_squared_error(three, four)), InvalidArgument, "mean_squared_error");
  CHECK_THROWS_NAMING(static_cast<void>(mean_absolute_error(three, four)), InvalidArgument, "mean_absolute_error");
  CHECK_THROWS_NAMING(static_cast<void>(r2_score(three, four)), InvalidArgument, "r2_score");
  Vector<double> with_inf = three;
  with_inf(1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_NAMING(static_cast<void>(r2_score(three, with_inf)), InvalidArgument, "y_pred contains NaN or infinity");
}

TEST_CASE("KFold and StratifiedKFold: scikit-learn's folds without shuffling") {
  const auto r = load_reference("classical_model_selection.json");
  const IndexVector y = json_indices(r["stratified_y"]);
  const auto stratified = StratifiedKFold({.n_splits = 4}).split(y);
  REQUIRE(stratified.size() == 4);
  for (std::size_t f = 0; f < 4; ++f) CHECK(stratified[f].test == json_indices(r["stratified_test_folds"][f]));
  const auto plain = KFold({.n_splits = 4}).split(r["kfold_n"].get<Index>());
  for (std::size_t f = 0; f < 4; ++f) CHECK(plain[f].test == json_indices(r["kfold_test_folds"][f]));
}

TEST_CASE("KFold and StratifiedKFold: partitions, proportions, seeds and bad inputs") {
  const auto iris = read_csv<double>(data_path("iris.csv"));
  const IndexVector y = iris.labels();
  for (bool stratified : {false, true}) {
    CAPTURE(stratified);
    const KFoldParams params{.n_splits = 5, .shuffle = true, .seed = 3};
    const auto folds = stratified ? StratifiedKFold(params).split(y) : KFold(params).split(y.size());
    std::vector<int> seen(static_cast<std::size_t>(y.size()), 0);
    for (const Fold& fold : folds) {
      CHECK(fold.train.size() + fold.test.size() == y.size());
      CHECK(fold.test.size() == 30);
      for (Index i : fold.test) ++seen[static_cast<std::size_t>(i)];
      std::set<Index> train(fold.train.begin(), fold.train.end());
      for (Index i : fold.test) CHECK(train.count(i) == 0);
      if (stratified)
        for (Index c = 0; c < 3; ++c) CHECK((y(fold.test).array() == c).count() == 10);
    }
    CHECK(std::all_of(seen.begin(), seen.end(), [](int s) { return s == 1; }));
    const auto again = stratified ? StratifiedKFold(params).split(y) : KFold(params).split(y.size());
    const auto other = stratified ? StratifiedKFold({.n_splits = 5, .shuffle = true, .seed = 4}).split(y)
                                  : KFold({.n_splits = 5, .shuffle = true, .seed = 4}).split(y.size());
    CHECK(again[0].test == folds[0].test);
    CHECK_FALSE(other[0].test == folds[0].test);
  }
  CHECK_THROWS_NAMING(KFold({.n_splits = 1}), InvalidArgument, "KFold: n_splits must be at least 2");
  CHECK_THROWS_NAMING(StratifiedKFold({.n_splits = 0}), InvalidArgument, "StratifiedKFold");
  CHECK_THROWS_NAMING(static_cast<void>(KFold({.n_splits = 5}).split(3)), InvalidArgument,
                      "greater than the number of samples");
  IndexVector tiny(6);
  tiny << 0, 0, 1, 1, 2, 2;
  CHECK_THROWS_NAMING(static_cast<void>(StratifiedKFold({.n_splits = 3}).split(tiny.head(2))), InvalidArgument,
                      "StratifiedKFold::split");
  CHECK_THROWS_NAMING(static_cast<void>(StratifiedKFold({.n_splits = 3}).split(tiny)), InvalidArgument,
                      "number of members of every class");
}

TEST_CASE("train_test_split: sizes, stratification, seeds and bad inputs") {
  const auto wine = read_csv<double>(data_path("wine.csv"));
  const IndexVector y = wine.labels();
  const auto split = train_test_split(wine.X, y, {.test_size = 0.2, .stratify = true, .seed = 1});
  CHECK(split.X_test.rows() == 36);  // ⌈0.2 · 178⌉
  CHECK(split.X_train.rows() == 142);
  CHECK(split.X_test.row(0) == wine.X.row(split.test_indices(0)));
  CHECK(split.y_train(5) == y(split.train_indices(5)));
  for (Index c = 0; c < 3; ++c) {
    const double whole = static_cast<double>((y.array() == c).count()) / 178.0;
    const double part = static_cast<double>((split.y_test.array() == c).count()) / 36.0;
    CHECK(std::abs(whole - part) < 1.0 / 36.0);
  }
  std::vector<Index> all(split.train_indices.begin(), split.train_indices.end());
  all.insert(all.end(), split.test_indices.begin(), split.test_indices.end());
  std::sort(all.begin(), all.end());
  for (Index i = 0; i < 178; ++i) CHECK(all[static_cast<std::size_t>(i)] == i);
  const auto same = train_test_split(wine.X, y, {.test_size = 0.2, .stratify = true, .seed = 1});
  CHECK(same.test_indices == split.test_indices);
  const auto plain = train_test_split(wine.X, wine.y, {.seed = 1});
  CHECK(plain.X_test.rows() == 45);
  CHECK_THROWS_NAMING(static_cast<void>(train_test_split(wine.X, wine.y, {.stratify = true})), InvalidArgument,
                      "stratify needs integer class labels");
  CHECK_THROWS_NAMING(static_cast<void>(train_test_split(wine.X, y, {.test_size = 1.0})), InvalidArgument,
                      "test_size must be in (0, 1)");
  CHECK_THROWS_NAMING(static_cast<void>(train_test_split(wine.X, IndexVector(y.head(3)))), InvalidArgument,
                      "train_test_split: X has 178 samples");
  CHECK_THROWS_NAMING(static_cast<void>(take_rows(wine.X, IndexVector::Constant(1, 178))), InvalidArgument,
                      "take_rows: a row index lies outside 0..177");
  CHECK(take_rows(wine.y, split.test_indices) == split.y_test.cast<double>());
  CHECK_THROWS_NAMING(static_cast<void>(train_test_split(Matrix<double>(1, 2), IndexVector(1))), InvalidArgument,
                      "leaves an empty part");
}

TEST_CASE("StandardScaler equals scikit-learn's, zero-variance columns keep scale 1") {
  const auto r = load_reference("classical_model_selection.json");
  auto wine = read_csv<double>(data_path("wine.csv"));
  wine.X.col(2).setConstant(1.5);
  StandardScaler<double> scaler;
  const Matrix<double> Z = scaler.fit_transform(wine.X);
  CHECK(max_relative_error(scaler.mean(), json_vector<double>(r["scaler_mean"]).transpose()) <= 1e-14);
  CHECK(max_relative_error(scaler.scale(), json_vector<double>(r["scaler_scale"]).transpose()) <= 1e-13);
  CHECK(scaler.scale()(2) == 1.0);
  CHECK(max_relative_error(Z.topRows(5), json_matrix<double>(r["scaler_first_rows"])) <= 1e-12);
  CHECK(max_relative_error(scaler.inverse_transform(Z), wine.X) <= 1e-14);
  StandardScaler<double> unfitted;
  CHECK_THROWS_NAMING(static_cast<void>(unfitted.transform(wine.X)), NotFittedError, "StandardScaler::transform");
  CHECK_THROWS_NAMING(static_cast<void>(unfitted.inverse_transform(wine.X)), NotFittedError, "inverse_transform");
  CHECK_THROWS_NAMING(static_cast<void>(scaler.transform(Matrix<double>::Zero(2, 3))), InvalidArgument,
                      "X has 3 features, the model was fitted on 13");
  CHECK_THROWS_NAMING(unfitted.fit(Matrix<double>(0, 3)), InvalidArgument, "StandardScaler::fit: X is empty");
  Matrix<double> bad = wine.X;
  bad(0, 0) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_NAMING(unfitted.fit(bad), InvalidArgument, "NaN");
  StandardScaler<double> centre_only({.with_std = false});
  CHECK((centre_only.fit_transform(wine.X).colwise().mean().cwiseAbs().array() < 1e-9).all());
}

TEST_CASE("StandardScaled<GaussianNBScratch> conforms to the estimator contract") {
  aimastery::test::check_classifier_conformance([] { return StandardScaled<GaussianNBScratch<double>>(); },
                                                "StandardScaled");
}

TEST_CASE("StandardScaled keeps its scaler when the estimator refuses a refit; StandardScaler keeps its statistics") {
  // The scaler used to be refitted before the estimator threw: the old estimator then saw other scalings.
  const auto four = aimastery::test::conformance_detail::gaussian_blobs<double>(10, 4, {-4, 9, 12, 30}, 5);
  const Matrix<double> shifted = (four.X.array() * 7.0 + 3.0).matrix();
  aimastery::test::check_failed_refit_keeps_model(
      [] {
        return StandardScaled<GaussianNBScratch<double>>(GaussianNBScratch<double>({.priors = {0.2, 0.3, 0.5}}));
      },
      "priors has 3 entries", [&](auto& model) { model.fit(shifted, four.y); });

  const auto wine = read_csv<double>(data_path("wine.csv"), {.target = "target"});
  StandardScaler<double> scaler;
  scaler.fit(wine.X);
  const Matrix<double> before = scaler.transform(wine.X);
  Matrix<double> bad = shifted;
  bad(2, 1) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_NAMING(scaler.fit(bad), InvalidArgument, "StandardScaler::fit");
  CHECK_THROWS_NAMING(scaler.fit(Matrix<double>(0, 4)), InvalidArgument, "StandardScaler::fit");
  CHECK(scaler.transform(wine.X) == before);
}

TEST_CASE("cross_val_score: 5-fold stratified CV accuracy within 2 points of scikit-learn's") {
  const auto r = load_reference("classical_model_selection.json");
  for (const std::string name : {"iris", "wine", "breast_cancer", "digits"}) {
    CAPTURE(name);
    const auto data = read_csv<double>(data_path(name + ".csv"));
    const IndexVector y = data.labels();
    const KFoldParams protocol{.n_splits = 5, .shuffle = true, .seed = 0};
    const Vector<double> logistic =
        cross_val_score([] { return StandardScaled<LogisticRegressionScratch<double>>(); }, data.X, y, protocol);
    const Vector<double> bayes = cross_val_score([] { return GaussianNBScratch<double>(); }, data.X, y, protocol);
    const double ref_logistic = r["cv_accuracy"][name]["logistic_regression_std"].get<double>();
    const double ref_bayes = r["cv_accuracy"][name]["gaussian_nb"].get<double>();
    MESSAGE(name << ": LogReg(std) " << logistic.mean() << " (scikit-learn " << ref_logistic << "), GaussianNB "
                 << bayes.mean() << " (scikit-learn " << ref_bayes << ")");
    CHECK(logistic.size() == 5);
    CHECK(std::abs(logistic.mean() - ref_logistic) <= 0.02);
    CHECK(std::abs(bayes.mean() - ref_bayes) <= 0.02);
  }
}

TEST_CASE("cross_val_score: regression folds, explicit folds and bad inputs") {
  const auto diabetes = read_csv<double>(data_path("diabetes.csv"));
  const Vector<double> r2 = cross_val_score([] { return LinearRegressionScratch<double>(); }, diabetes.X, diabetes.y,
                                            KFoldParams{.n_splits = 5, .shuffle = true, .seed = 0});
  CHECK(r2.mean() == doctest::Approx(0.489).epsilon(0.05));  // REFERENCE.md: CV R² 0.489
  const auto make = [] { return GaussianNBScratch<double>(); };
  const Matrix<double> X = diabetes.X.topRows(20);
  const IndexVector y = (diabetes.y.topRows(20).array() > 150).cast<Index>();
  CHECK_THROWS_NAMING(static_cast<void>(cross_val_score(make, X, y, std::vector<Fold>{})), InvalidArgument,
                      "no folds given");
  std::vector<Fold> bad(1);
  bad[0].train = IndexVector::LinSpaced(10, 0, 9);
  bad[0].test = IndexVector::Constant(1, 99);
  CHECK_THROWS_NAMING(static_cast<void>(cross_val_score(make, X, y, bad)), InvalidArgument, "row index outside");
  bad[0].test = IndexVector(0);
  CHECK_THROWS_NAMING(static_cast<void>(cross_val_score(make, X, y, bad)), InvalidArgument, "fold 0 is empty");
  CHECK_THROWS_NAMING(static_cast<void>(cross_val_score(make, X, IndexVector(y.head(5)))), InvalidArgument,
                      "cross_val_score: X has 20 samples");
}
