// dht-escalate's policy parser and command splitting: any text as a policy
// file; a policy that parses survives its JSON round trip unchanged, and every
// command joins back to words that split the same.
#include "policy.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    dht::escalate::EscalationPolicy policy;
    std::vector<dht::escalate::PolicyError> errors;
    dht::escalate::parse_policy(text, "fuzz.policy", policy, errors);
    if (errors.empty()) {
        const auto json = dht::escalate::policy_to_json(policy);
        const auto back = dht::escalate::policy_from_json(json);
        if (!back || dht::escalate::policy_to_json(*back) != json)
            std::abort();
        for (int level = 1; level <= policy.max_level && level < 8; ++level)
            (void)policy.wait_at(level);
        (void)policy.held_minutes("warning", static_cast<int>(size % 1440));
    }
    std::string error;
    if (auto argv = dht::escalate::split_command(text, error)) {
        const auto again = dht::escalate::split_command(dht::escalate::join_command(*argv), error);
        if (!again || *again != *argv)
            std::abort();
    }
    return 0;
}
