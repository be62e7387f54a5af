// JsonWriter: JSON written as it goes, the same text nlohmann would write.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "sink/json_writer.hpp"

using shimwatch::JsonWriter;

namespace {

std::string canonical(const std::string &text) {
  return nlohmann::ordered_json::parse(text).dump();
}

TEST(JsonWriter, NestedObjectsAndArraysTakeCommasOnlyBetweenMembers) {
  JsonWriter w;
  w.object().field("a", 1).key("b").object().end().key("c").array();
  w.value("x").object().field("y", true).end().array().end().end();
  w.field("d", false).end();
  const std::string text = w.take();
  EXPECT_EQ(text, R"({"a":1,"b":{},"c":["x",{"y":true},[]],"d":false})");
  EXPECT_EQ(canonical(text), text);
}

TEST(JsonWriter, IntegersAtTheirLimits) {
  JsonWriter w;
  w.array()
      .value(std::numeric_limits<uint64_t>::max())
      .value(std::numeric_limits<int64_t>::min())
      .value(uint16_t{0})
      .value(-1)
      .end();
  const std::string text = w.take();
  EXPECT_EQ(text, "[18446744073709551615,-9223372036854775808,0,-1]");
  EXPECT_EQ(canonical(text), text);
}

TEST(JsonWriter, EveryControlCharacterQuoteAndBackslashIsEscapedAsNlohmannDoes) {
  std::string all;
  for (int c = 0; c < 0x80; ++c)
    all += static_cast<char>(c);
  JsonWriter w;
  w.value(all);
  const std::string text = w.take();
  EXPECT_EQ(text.substr(0, 13), R"("\u0000\u0001)");
  EXPECT_NE(text.find(R"(\b\t\n\u000b\f\r)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"( !\"#)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"([\\])"), std::string::npos) << text;
  EXPECT_EQ(canonical(text), text);
  EXPECT_EQ(nlohmann::json::parse(text).get<std::string>(), all);
}

TEST(JsonWriter, ValidUtf8PassesAndInvalidBytesBecomeReplacementCharacters) {
  bool replaced = false;
  JsonWriter w;
  w.array().value("caf\xC3\xA9 \xF0\x9F\x90\xB3", &replaced).end();
  EXPECT_EQ(w.take(), "[\"caf\xC3\xA9 \xF0\x9F\x90\xB3\"]");
  EXPECT_FALSE(replaced);

  JsonWriter bad;
  bad.array()
      .value("a\xFF"
             "b\xE2\x82",
             &replaced)
      .end();
  const std::string text = bad.take();
  EXPECT_TRUE(replaced);
  EXPECT_EQ(text, "[\"a\xEF\xBF\xBD"
                  "b\xEF\xBF\xBD\xEF\xBF\xBD\"]");
  EXPECT_EQ(canonical(text), text);
}

TEST(JsonWriter, MemberNamesFromOutsideAreEscapedToo) {
  bool replaced = false;
  JsonWriter w;
  w.object().key_from("app.kubernetes.io/\"name\"\n", &replaced).value("v").end();
  const std::string text = w.take();
  EXPECT_EQ(text, R"({"app.kubernetes.io/\"name\"\n":"v"})");
  EXPECT_FALSE(replaced);
  EXPECT_EQ(canonical(text), text);
}

TEST(JsonWriter, AStringLiteralIsAStringNotABoolean) {
  JsonWriter w;
  w.object().field("kind", "event").field("empty", "").end();
  EXPECT_EQ(w.take(), R"({"kind":"event","empty":""})");
}

} // namespace
