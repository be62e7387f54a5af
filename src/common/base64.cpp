#include "shimwatch/base64.hpp"

#include <openssl/evp.h>

namespace shimwatch {

std::string base64_encode(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                                reinterpret_cast<const unsigned char *>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text)
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t')
      compact += c;
  if (compact.size() % 4 != 0)
    return Error{"not valid base64 (its length is not a multiple of 4)"};
  std::string out(compact.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char *>(out.data()),
                                reinterpret_cast<const unsigned char *>(compact.data()),
                                static_cast<int>(compact.size()));
  if (n < 0)
    return Error{"not valid base64"};
  // EVP_DecodeBlock counts the padding as zero bytes.
  size_t padding = 0;
  for (auto it = compact.rbegin(); it != compact.rend() && *it == '=' && padding < 2; ++it)
    ++padding;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

} // namespace shimwatch
