// Base64: the encoder of argv bytes in events and the decoder of kubeconfig
// certificate data, one implementation (OpenSSL's).
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "shimwatch/base64.hpp"

using namespace std::string_view_literals;
using shimwatch::base64_decode;
using shimwatch::base64_encode;

TEST(Base64, Rfc4648TestVectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, BinaryBytes) {
  EXPECT_EQ(base64_encode("\0"sv), "AA==");
  EXPECT_EQ(base64_encode("\x00\xff"sv), "AP8=");
  EXPECT_EQ(base64_encode("\xfb\xff\xbf"sv), "+/+/");
  EXPECT_EQ(base64_encode("\xff\xff\xff"sv), "////");
}

TEST(Base64, DecodesWhatItEncodesWhateverTheBytes) {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b)
    all_bytes += static_cast<char>(b);
  for (size_t n = 0; n <= all_bytes.size(); n += 37) {
    auto back = base64_decode(base64_encode(all_bytes.substr(0, n)));
    ASSERT_TRUE(back) << n;
    EXPECT_EQ(*back, all_bytes.substr(0, n));
  }
}

TEST(Base64, DecodingSkipsLineBreaksAndRejectsTheRest) {
  auto wrapped = base64_decode("Zm9v\nYmFy\r\n");
  ASSERT_TRUE(wrapped);
  EXPECT_EQ(*wrapped, "foobar");
  auto padded = base64_decode("Zg==");
  ASSERT_TRUE(padded);
  EXPECT_EQ(*padded, "f");
  EXPECT_FALSE(base64_decode("Zm9"));
  EXPECT_FALSE(base64_decode("Zm9*"));
  EXPECT_NE(base64_decode("Zm9").error().message.find("not valid base64"), std::string::npos);
}
