// Whether a kernel can run the agent at all: the one line `check` prints and
// `run` exits with.
#include <gtest/gtest.h>

#include "shimwatch/check.hpp"

using shimwatch::unsupported_kernel;

TEST(KernelSupport, ReleasesFrom58OnRunWhenNotProbed) {
  for (const char *release : {"5.8.0", "5.10.0-32-amd64", "5.14.0-362.el9.x86_64", "6.1.0-47-amd64",
                              "6.12.107+deb13-amd64", "10.0.0"})
    EXPECT_FALSE(unsupported_kernel(release, std::nullopt)) << release;
}

TEST(KernelSupport, OlderReleasesGetOneLineThatSaysWhy) {
  for (const char *release : {"4.19.0-27-amd64", "5.4.0-150-generic", "5.7.19", "3.10.0"}) {
    auto line = unsupported_kernel(release, std::nullopt);
    ASSERT_TRUE(line) << release;
    EXPECT_EQ(*line, "kernel " + std::string(release) +
                         " has no BPF ring buffer (Linux 5.8 or later has one): shimwatch "
                         "cannot run on this node; upgrade its kernel");
    EXPECT_EQ(line->find('\n'), std::string::npos);
  }
}

TEST(KernelSupport, TheProbeWinsOverTheRelease) {
  // RHEL 8's 4.18 has BPF ring buffers backported.
  EXPECT_FALSE(unsupported_kernel("4.18.0-513.el8.x86_64", true));
  // A kernel built without them, whatever its number.
  EXPECT_TRUE(unsupported_kernel("6.1.0", false));
}

TEST(KernelSupport, AnUnreadableReleaseIsNotSupported) {
  EXPECT_TRUE(unsupported_kernel("", std::nullopt));
  EXPECT_TRUE(unsupported_kernel("linux", std::nullopt));
}
