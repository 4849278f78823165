// DriftDetector against per-feature SciPy statistics; DDM and Page–Hinkley against River's update rules.
#include <random>
#include <string>
#include <vector>

#include "aimastery/production/monitoring.hpp"
#include "aimastery/production/monitoring/json.hpp"
#include "support.hpp"

using namespace aimastery;
using aimastery::test::close;
using aimastery::test::json_number;
using aimastery::test::load_reference;

namespace {

constexpr double drift_rel = aimastery::test::Tolerance<double>::reference;

struct Frames {
  FeatureFrame reference, current;
  nlohmann::json ref;
};

Frames drift_frames() {
  Frames f;
  f.ref = load_reference("monitoring_streams.json")["drift"];
  const auto& r = f.ref["ref_milli"];
  const auto& c = f.ref["cur_milli"];
  for (std::size_t j = 0; j < 4; ++j) {
    std::vector<double> a, b;
    for (const auto& row : r) a.push_back(static_cast<double>(row[j].get<long long>()) / 1000.0);
    for (const auto& row : c) b.push_back(static_cast<double>(row[j].get<long long>()) / 1000.0);
    f.reference.add_numeric("x" + std::to_string(j), a);
    f.current.add_numeric("x" + std::to_string(j), b);
  }
  f.reference.add_categorical("colour", f.ref["cat_ref"].get<std::vector<std::string>>());
  f.current.add_categorical("colour", f.ref["cat_cur"].get<std::vector<std::string>>());
  return f;
}

}  // namespace

TEST_CASE("DriftDetector: automatic methods give SciPy's per-feature statistics and the dataset verdict") {
  const Frames f = drift_frames();
  DriftDetector detector;
  detector.fit(f.reference);
  const DriftReport report = detector.detect(f.current);
  REQUIRE(report.features.size() == 5);
  for (int j = 0; j < 4; ++j) {
    const auto& feature = report.feature("x" + std::to_string(j));
    CHECK(feature.method == DriftMethod::ks);  // 400 reference rows ≤ 1000
    CHECK(close(feature.statistic, json_number<double>(f.ref["ks_statistic"][j]), drift_rel));
    CHECK(close(*feature.p_value, json_number<double>(f.ref["ks_pvalue"][j]), drift_rel, 1e-300));
    CHECK(feature.drifted == (*feature.p_value < 0.05));
  }
  const auto& colour = report.feature("colour");
  CHECK(colour.method == DriftMethod::chi_square);
  CHECK(!colour.numeric);
  CHECK(close(colour.statistic, json_number<double>(f.ref["chi2_statistic"]), drift_rel));
  CHECK(close(*colour.p_value, json_number<double>(f.ref["chi2_pvalue"]), drift_rel, 1e-300));
  CHECK(report.feature("x1").drifted);  // scaled and shifted
  CHECK(!report.feature("x0").drifted);
  CHECK(colour.drifted);
  CHECK(report.drifted_features ==
        static_cast<std::size_t>(
            std::count_if(report.features.begin(), report.features.end(), [](auto& x) { return x.drifted; })));
  CHECK(report.dataset_drift == (report.share_drifted >= 0.5));

  // JSON and table carry the same verdicts.
  const nlohmann::json j = report.to_json<nlohmann::json>();
  CHECK(report.to_json().dump() == j.dump());
  CHECK(j["features"].size() == 5);
  CHECK(j["features"][1]["name"] == "x1");
  CHECK(j["features"][1]["drifted"] == true);
  CHECK(j["features"][1]["method"] == "ks");
  CHECK(j["dataset_drift"] == report.dataset_drift);
  CHECK(nlohmann::json::parse(j.dump()) == j);
  const std::string table = report.to_table();
  CHECK(table.find("x1") != std::string::npos);
  CHECK(table.find("DRIFT") != std::string::npos);
  CHECK(table.find("dataset drift:") != std::string::npos);
}

TEST_CASE("DriftDetector: large references switch to Wasserstein/std and Jensen-Shannon, as Evidently") {
  const Frames f = drift_frames();
  DriftDetector detector({.small_reference = 100});  // 400 rows now count as large
  detector.fit(f.reference);
  const DriftReport report = detector.detect(f.current);
  for (int j = 0; j < 4; ++j) {
    const auto& feature = report.feature("x" + std::to_string(j));
    CHECK(feature.method == DriftMethod::wasserstein);
    CHECK(close(feature.statistic, json_number<double>(f.ref["wasserstein_over_std"][j]), drift_rel));
    CHECK(!feature.p_value);
    CHECK(feature.drifted == (feature.statistic >= 0.1));
  }
  const auto& colour = report.feature("colour");
  CHECK(colour.method == DriftMethod::jensen_shannon);
  CHECK(close(colour.statistic, json_number<double>(f.ref["jensen_shannon"]), drift_rel));
  CHECK(report.to_json().at("features").at(0).at("p_value").is_null());
}

TEST_CASE("DriftDetector: explicit methods, Bonferroni and Benjamini-Hochberg") {
  const Frames f = drift_frames();
  DriftDetector plain;
  plain.fit(f.reference);
  const DriftReport base = plain.detect(f.current);

  DriftDetector bonferroni({.correction = MultipleTestingCorrection::bonferroni});
  bonferroni.fit(f.reference);
  const DriftReport rb = bonferroni.detect(f.current);
  for (std::size_t i = 0; i < rb.features.size(); ++i) {
    CHECK(close(*rb.features[i].adjusted_p_value, std::min(1.0, *base.features[i].p_value * 5.0), 1e-15));
    CHECK(rb.features[i].drifted == (*base.features[i].p_value < 0.05 / 5));
  }
  DriftDetector bh({.correction = MultipleTestingCorrection::benjamini_hochberg});
  bh.fit(f.reference);
  const DriftReport rh = bh.detect(f.current);
  // Step-up rule: reject the k smallest p-values where k is the largest with p_(k) ≤ k α / m.
  std::vector<double> p;
  for (const auto& x : base.features) p.push_back(*x.p_value);
  std::vector<double> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  std::size_t k = 0;
  for (std::size_t i = 0; i < sorted.size(); ++i)
    if (sorted[i] <= 0.05 * static_cast<double>(i + 1) / 5.0) k = i + 1;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const bool expected = k > 0 && p[i] <= sorted[k - 1];
    CHECK(rh.features[i].drifted == expected);
  }

  DriftDetector explicit_methods({.methods = {{"x0", DriftMethod::psi},
                                              {"x1", DriftMethod::jensen_shannon},
                                              {"x2", DriftMethod::chi_square},
                                              {"colour", DriftMethod::psi}}});
  explicit_methods.fit(f.reference);
  const DriftReport re = explicit_methods.detect(f.current);
  const auto& x0 = re.feature("x0");
  CHECK(x0.method == DriftMethod::psi);
  std::vector<double> a = std::get<std::vector<double>>(f.reference.column("x0"));
  std::vector<double> b = std::get<std::vector<double>>(f.current.column("x0"));
  CHECK(x0.statistic == psi(a, b).value);
  CHECK(re.feature("x1").method == DriftMethod::jensen_shannon);
  CHECK(re.feature("x1").drifted);
  CHECK(re.feature("x2").method == DriftMethod::chi_square);
  CHECK(re.feature("x2").p_value.has_value());
  CHECK(re.feature("colour").method == DriftMethod::psi);
  CHECK(re.feature("colour").statistic > 0.1);
}

TEST_CASE("DriftDetector bad inputs") {
  const Frames f = drift_frames();
  DriftDetector detector;
  CHECK_THROWS_AS((void)detector.detect(f.current), NotFittedError);
  CHECK_THROWS_NAMING(detector.fit(FeatureFrame{}), InvalidArgument, "no features");
  detector.fit(f.reference);
  FeatureFrame missing;
  missing.add_numeric("x0", std::vector<double>{1, 2, 3});
  CHECK_THROWS_NAMING((void)detector.detect(missing), InvalidArgument, "no feature \"x1\"");
  FeatureFrame wrong_type = FeatureFrame{};
  wrong_type.add_categorical("x0", std::vector<int>{1, 2});
  CHECK_THROWS_NAMING((void)detector.detect(wrong_type), InvalidArgument, "\"x0\" is numeric in the reference");
  DriftDetector categorical_ks({.methods = {{"colour", DriftMethod::ks}}});
  CHECK_THROWS_NAMING(categorical_ks.fit(f.reference), InvalidArgument, "needs a numeric feature");
  DriftDetector unknown({.methods = {{"nope", DriftMethod::ks}}});
  CHECK_THROWS_NAMING(unknown.fit(f.reference), InvalidArgument, "unknown feature \"nope\"");
  CHECK_THROWS_NAMING(DriftDetector({.p_value_threshold = 0.0}), InvalidArgument, "p_value_threshold");
  FeatureFrame duplicate;
  duplicate.add_numeric("a", std::vector<double>{1});
  CHECK_THROWS_NAMING(duplicate.add_numeric("a", std::vector<double>{1}), InvalidArgument, "already present");
  FeatureFrame with_nan;
  with_nan.add_numeric("a", std::vector<double>{1, std::nan("")});
  CHECK_THROWS_NAMING(DriftDetector().fit(with_nan), InvalidArgument, "\"a\" contains NaN");
  Matrix<double> X = Matrix<double>::Zero(3, 2);
  CHECK_THROWS_NAMING(FeatureFrame::from_matrix(X, {"only one"}), InvalidArgument, "2 columns but 1 names");
  // A map of name → column.
  const FeatureFrame mapped =
      FeatureFrame::from_columns({{"b", std::vector<double>{1, 2, 3}}, {"a", std::vector<std::string>{"x", "y", "x"}}});
  CHECK(mapped.names() == std::vector<std::string>{"a", "b"});
  CHECK(mapped.is_numeric("b"));
  CHECK(!mapped.is_numeric("a"));
  CHECK_THROWS_NAMING((void)mapped.column("c"), InvalidArgument, "no feature named \"c\"");
  // Matrix convenience: fit and detect on matrices.
  Matrix<double> R(50, 2), C(40, 2);
  std::mt19937_64 rng(aimastery::test::test_seed());
  std::normal_distribution<double> normal;
  for (Index i = 0; i < R.size(); ++i) R.data()[i] = normal(rng);
  for (Index i = 0; i < C.size(); ++i) C.data()[i] = normal(rng) + (i % 2 ? 3.0 : 0.0);  // column 1 shifted
  DriftDetector m;
  m.fit(R, {"a", "b"});
  const auto report = m.detect(C);
  CHECK(report.feature("b").drifted);
  CHECK(report.features.size() == 2);
}

TEST_CASE("DDM and PageHinkley detect at River's indices on the reference streams") {
  const auto ref = load_reference("monitoring_streams.json")["concept_drift"];
  DDM ddm;
  std::vector<long long> warnings, drifts;
  long long i = 0;
  for (const auto& e : ref["errors"]) {
    ddm.update(e.get<int>() == 1);
    if (ddm.warning_detected()) warnings.push_back(i);
    if (ddm.drift_detected()) drifts.push_back(i);
    ++i;
  }
  CHECK(drifts == ref["ddm_drifts"].get<std::vector<long long>>());
  CHECK(warnings == ref["ddm_warnings"].get<std::vector<long long>>());
  CHECK(!drifts.empty());

  PageHinkley ph;
  std::vector<long long> ph_drifts;
  i = 0;
  for (const auto& v : ref["values_milli"]) {
    if (ph.update(static_cast<double>(v.get<long long>()) / 1000.0)) ph_drifts.push_back(i);
    ++i;
  }
  CHECK(ph_drifts == ref["ph_drifts"].get<std::vector<long long>>());
  CHECK(!ph_drifts.empty());
}

TEST_CASE("DDM and PageHinkley on synthetic streams with a known change point") {
  std::mt19937_64 rng(aimastery::test::test_seed());
  // Error rate 0.1 then 0.9 from t = 2000: DDM (which may raise false alarms before, by design) detects
  // the change within 200 samples.
  std::bernoulli_distribution low(0.1), high(0.9);
  DDM ddm;
  long long first_drift = -1;
  for (long long t = 0; t < 3000; ++t) {
    const bool error = t < 2000 ? low(rng) : high(rng);
    if (ddm.update(error) && t >= 2000 && first_drift < 0) first_drift = t;
  }
  CHECK(first_drift >= 2000);
  CHECK(first_drift < 2200);

  PageHinkley ph;
  std::normal_distribution<double> before(0.0, 0.5), after(3.0, 0.5);
  long long ph_first = -1;
  for (long long t = 0; t < 2000; ++t) {
    if (ph.update(t < 1000 ? before(rng) : after(rng)) && ph_first < 0) ph_first = t;
  }
  CHECK(ph_first >= 1000);
  CHECK(ph_first < 1030);
  // Without a change, no drift within 1000 samples.
  PageHinkley calm;
  bool any = false;
  for (int t = 0; t < 1000; ++t) any = calm.update(before(rng)) || any;
  CHECK(!any);
  CHECK_THROWS_NAMING(ph.update(std::nan("")), InvalidArgument, "PageHinkley::update");
  CHECK_THROWS_NAMING(PageHinkley({.threshold = 0}), InvalidArgument, "threshold");
  CHECK_THROWS_NAMING(DDM({.warning_threshold = 3, .drift_threshold = 2}), InvalidArgument, "thresholds");
}
