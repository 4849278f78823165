// Tour section: core.math_operations on the digits and iris data (PCA, eigendecomposition, QR).
#include <aimastery/core/math_operations.hpp>
#include <aimastery/io/csv.hpp>

#include <cmath>
#include <cstdio>

#include "tour.hpp"

AIMASTERY_TOUR_SECTION(10, "core.math_operations: PCA, eigendecomposition, QR") {
  using namespace aimastery;
  const auto iris = read_csv<double>(data_dir + "/iris.csv");
  const auto digits = read_csv<double>(data_dir + "/digits.csv");

  // PCA: variance explained by the leading components (scikit-learn 1.2.1 figures beside ours).
  struct Row {
    const char* name;
    const Matrix<double>* X;
    double sklearn[3];
  };
  const Row rows[] = {{"iris  ", &iris.X, {0.9246, 0.0531, 0.0171}}, {"digits", &digits.X, {0.1489, 0.1362, 0.1179}}};
  std::printf("PCA explained variance ratio of the first 3 components (scikit-learn in brackets):\n");
  for (const auto& row : rows) {
    PCA<double> pca;
    pca.fit(*row.X);
    const auto& r = pca.explained_variance_ratio();
    std::printf("  %s %ldx%ld: %.4f [%.4f]  %.4f [%.4f]  %.4f [%.4f]\n", row.name, static_cast<long>(row.X->rows()),
                static_cast<long>(row.X->cols()), r(0), row.sklearn[0], r(1), row.sklearn[1], r(2), row.sklearn[2]);
  }
  PCA<double> pca({.n_components = 10});
  const Matrix<double> codes = pca.fit_transform(digits.X);
  const double kept = pca.explained_variance_ratio().sum();
  const double error = (pca.inverse_transform(codes) - digits.X).norm() / digits.X.norm();
  std::printf("digits through 10 components: %.1f%% of the variance kept, relative reconstruction error %.3f\n",
              100.0 * kept, error);

  // Eigendecomposition of the digits covariance: A V = V Λ and VᵀV = I to rounding.
  const Matrix<double> cov = covariance_matrix(digits.X);
  const auto eig = eigendecomposition(cov);
  const double residual = (cov * eig.vectors - eig.vectors * eig.values.asDiagonal()).norm() / cov.norm();
  const double orthogonality = (eig.vectors.transpose() * eig.vectors - Matrix<double>::Identity(64, 64)).norm();
  std::printf("eigendecomposition of the 64x64 digits covariance: converged %s after %ld QR sweeps,\n",
              eig.converged ? "yes" : "no", static_cast<long>(eig.iterations));
  std::printf("  |AV - V diag(values)| / |A| = %.1e, |V^T V - I| = %.1e, largest eigenvalue %.3f\n", residual,
              orthogonality, eig.values(0));
  const auto power = power_iteration(cov, 1000, 1e-10, /*seed=*/1);
  std::printf("power iteration: dominant eigenvalue %.6f after %ld products (eigendecomposition: %.6f)\n",
              power.eigenvalue, static_cast<long>(power.iterations), eig.values(0));
  // An eigenvector is defined up to sign, so the two agree when |cos| = 1.
  std::printf("|cosine similarity| of the first principal axis and the power-iteration vector: %.8f\n",
              std::abs(cosine_similarity(pca.components().row(0).transpose(), power.eigenvector)));

  // QR of the iris features: Q orthonormal, A = QR; Gram–Schmidt reports a dependent column.
  const auto qr = qr_decomposition(iris.X);
  std::printf("QR of iris (150x4): |Q^T Q - I| = %.1e, |QR - A| / |A| = %.1e\n",
              (qr.Q.transpose() * qr.Q - Matrix<double>::Identity(4, 4)).norm(),
              (qr.Q * qr.R - iris.X).norm() / iris.X.norm());
  Matrix<double> with_sum(150, 5);
  with_sum << iris.X, iris.X.col(2) + iris.X.col(3);
  const auto gs = gram_schmidt(with_sum);
  std::printf("Gram-Schmidt of iris plus a column petal length + petal width: rank %ld, dependent column %ld\n",
              static_cast<long>(gs.rank), static_cast<long>(gs.dependent_columns.at(0)));
}
