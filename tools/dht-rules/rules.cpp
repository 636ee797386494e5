#include "rules.hpp"

#include "dht/diag.hpp"
#include "dht/files.hpp"
#include "dht/time.hpp"

#include <mosquitto.h>

#include <algorithm>
#include <charconv>
#include <optional>

namespace dht::rules {

Truth evaluate_tree(const Expr &e, const FieldValue *values) noexcept
{
    switch (e.kind) {
    case Expr::Kind::compare: return compare(e, values[e.field]);
    case Expr::Kind::negate: {
        const Truth t = evaluate(*e.left, values);
        return t == Truth::unknown ? t : (t == Truth::yes ? Truth::no : Truth::yes);
    }
    case Expr::Kind::all: {
        const Truth a = evaluate(*e.left, values);
        if (a == Truth::no)
            return a;
        const Truth b = evaluate(*e.right, values);
        if (b == Truth::no)
            return b;
        return a == Truth::yes && b == Truth::yes ? Truth::yes : Truth::unknown;
    }
    case Expr::Kind::any: {
        const Truth a = evaluate(*e.left, values);
        if (a == Truth::yes)
            return a;
        const Truth b = evaluate(*e.right, values);
        if (b == Truth::yes)
            return b;
        return a == Truth::no && b == Truth::no ? Truth::no : Truth::unknown;
    }
    }
    return Truth::unknown;
}

const char *name_of(Action a) noexcept
{
    switch (a) {
    case Action::alert: return "alert";
    case Action::notify: return "notify";
    case Action::escalate: return "escalate";
    }
    return "alert";
}

const char *name_of(Health h) noexcept
{
    switch (h) {
    case Health::none: return "";
    case Health::unchanged: return "unchanged";
    case Health::jumps: return "jumps";
    case Health::rises: return "rises";
    case Health::falls: return "falls";
    }
    return "";
}

const char *name_of(Severity s) noexcept
{
    switch (s) {
    case Severity::info: return "info";
    case Severity::warning: return "warning";
    case Severity::critical: return "critical";
    }
    return "warning";
}

namespace {

struct Token {
    enum class Kind { word, number, duration, string, op, lparen, rparen, colon, arrow, end, bad };
    Kind kind = Kind::end;
    std::string_view text;  // as written (a string without its quotes, escapes not yet undone)
    std::size_t column = 0;  // 0-based
};

bool word_start(char c) noexcept { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool word_char(char c) noexcept { return word_start(c) || (c >= '0' && c <= '9'); }
bool digit(char c) noexcept { return c >= '0' && c <= '9'; }

class Lexer {
public:
    explicit Lexer(std::string_view line) : s_(line) {}

    Token next()
    {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\r'))
            ++pos_;
        Token t;
        t.column = pos_;
        if (pos_ >= s_.size() || s_[pos_] == '#') {
            t.kind = Token::Kind::end;
            return t;
        }
        const char c = s_[pos_];
        const std::size_t start = pos_;
        if (word_start(c)) {
            // A dotted path: words joined by dots; a part after a dot may start with a digit.
            ++pos_;
            while (pos_ < s_.size() && (word_char(s_[pos_]) || (s_[pos_] == '.' && pos_ + 1 < s_.size() &&
                                                                 word_char(s_[pos_ + 1]))))
                ++pos_;
            t.kind = Token::Kind::word;
        } else if (digit(c) || ((c == '-' || c == '+' || c == '.') && pos_ + 1 < s_.size() &&
                                (digit(s_[pos_ + 1]) || s_[pos_ + 1] == '.'))) {
            ++pos_;
            while (pos_ < s_.size() && (digit(s_[pos_]) || s_[pos_] == '.'))
                ++pos_;
            // An exponent (1e3, 2.5E-2) keeps it a number; letters make a duration (10m, 1.5h).
            if (pos_ + 1 < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E') &&
                (digit(s_[pos_ + 1]) ||
                 ((s_[pos_ + 1] == '-' || s_[pos_ + 1] == '+') && pos_ + 2 < s_.size() && digit(s_[pos_ + 2])))) {
                pos_ += 2;
                while (pos_ < s_.size() && digit(s_[pos_]))
                    ++pos_;
            }
            t.kind = Token::Kind::number;
            if (pos_ < s_.size() && word_start(s_[pos_])) {
                while (pos_ < s_.size() && word_char(s_[pos_]))
                    ++pos_;
                t.kind = Token::Kind::duration;
            }
        } else if (c == '"') {
            ++pos_;
            while (pos_ < s_.size() && s_[pos_] != '"') {
                if (s_[pos_] == '\\' && pos_ + 1 < s_.size())
                    ++pos_;
                ++pos_;
            }
            if (pos_ >= s_.size()) {
                t.kind = Token::Kind::bad;
                t.text = s_.substr(start);
                return t;
            }
            t.kind = Token::Kind::string;
            t.text = s_.substr(start + 1, pos_ - start - 1);
            ++pos_;
            return t;
        } else if (c == '-' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '>') {
            pos_ += 2;
            t.kind = Token::Kind::arrow;
        } else if (c == '<' || c == '>' || c == '=' || c == '!') {
            ++pos_;
            if (pos_ < s_.size() && s_[pos_] == '=')
                ++pos_;
            t.kind = Token::Kind::op;
        } else if (c == '(') {
            ++pos_;
            t.kind = Token::Kind::lparen;
        } else if (c == ')') {
            ++pos_;
            t.kind = Token::Kind::rparen;
        } else if (c == ':') {
            ++pos_;
            t.kind = Token::Kind::colon;
        } else {
            // Anything else: one character (or the run of punctuation such as && or ||).
            ++pos_;
            while (pos_ < s_.size() && (s_[pos_] == '&' || s_[pos_] == '|') && s_[pos_] == c)
                ++pos_;
            t.kind = Token::Kind::bad;
        }
        t.text = s_.substr(start, pos_ - start);
        return t;
    }

    std::size_t position() const noexcept { return pos_; }
    void seek(std::size_t pos) noexcept { pos_ = pos; }

private:
    std::string_view s_;
    std::size_t pos_ = 0;
};

struct Failure {
    std::size_t column;
    std::string message;
    std::string hint;
};

const char *const hint_rule =
    "a rule is NAME: CONDITION [for N readings | for DURATION] [clear CONDITION] -> ACTION [SEVERITY]";
const char *const hint_compare = "a comparison is FIELD OP NUMBER, e.g. temperature < 5 (OP: < <= > >= == !=)";
const char *const hint_duration = "a duration is a number and a unit: 30s, 10m, 2h, 1d";
const char *const hint_actions = "the actions are alert, notify and escalate";
const char *const hint_severities = "the severities are info, warning and critical";
const char *const hint_health = "a health condition is FIELD unchanged for DURATION, FIELD jumps by NUMBER, "
                                "or FIELD rises|falls by NUMBER within DURATION";
const char *const hint_alone = "a health condition is the whole condition: no and, or, not, for or clear with it";

Health health_word(std::string_view w) noexcept
{
    for (const Health h : {Health::unchanged, Health::jumps, Health::rises, Health::falls})
        if (w == name_of(h))
            return h;
    return Health::none;
}

bool is_keyword(std::string_view w) noexcept
{
    static constexpr std::string_view keywords[] = {"and", "or", "not", "for", "clear", "readings", "reading"};
    return std::find(std::begin(keywords), std::end(keywords), w) != std::end(keywords);
}

std::string describe(const Token &t)
{
    switch (t.kind) {
    case Token::Kind::end: return "the end of the line";
    case Token::Kind::string: return cat("\"", t.text, "\"");
    default: return cat("'", t.text, "'");
    }
}

class Parser {
public:
    Parser(std::string_view line, RuleSet &set) : lex_(line), line_(line), set_(set) { advance(); }

    Rule parse()
    {
        Rule rule;
        // NAME [on FILTER] :
        const std::size_t name_end = line_.find_first_of(" \t:");
        rule.name = std::string(line_.substr(0, name_end));
        if (rule.name.empty())
            throw Failure{0, "a rule starts with its name", "e.g. cold: temperature < 5 -> alert"};
        for (const char c : rule.name)
            if (!word_char(c) && c != '-' && c != '.')
                throw Failure{0, cat("bad rule name '", rule.name, "'"),
                              "a rule name is letters, digits, '_', '-' and '.', then a colon: cold: temperature < 5 -> alert"};
        lex_.seek(name_end == std::string_view::npos ? line_.size() : name_end);
        advance();
        if (tok_.kind == Token::Kind::word && tok_.text == "on") {
            std::size_t p = lex_.position();
            while (p < line_.size() && (line_[p] == ' ' || line_[p] == '\t'))
                ++p;
            std::size_t e = p;
            while (e < line_.size() && line_[e] != ' ' && line_[e] != '\t')
                ++e;
            std::string_view filter = line_.substr(p, e - p);
            if (!filter.empty() && filter.back() == ':') {
                filter.remove_suffix(1);
                --e;
            }
            if (filter.empty() || mosquitto_sub_topic_check2(std::string(filter).c_str(), filter.size()) !=
                                      MOSQ_ERR_SUCCESS)
                throw Failure{p, cat("bad topic filter '", filter, "'"),
                              "'on' takes an MQTT topic filter, e.g. on dht11/+/data"};
            rule.filter = std::string(filter);
            lex_.seek(e);
            advance();
        }
        if (tok_.kind != Token::Kind::colon)
            throw Failure{tok_.column, cat("expected ':' after the rule name, found ", describe(tok_)), hint_rule};
        advance();
        const std::size_t body = tok_.column;
        if (tok_.kind == Token::Kind::word && tok_.text == "no" && peek_word() == "data") {
            advance();
            advance();
            expect_word("for", "expected 'for' after 'no data'", "e.g. silent: no data for 10m -> alert warning");
            rule.no_data = true;
            rule.silence = duration("after 'no data for'");
            rule.condition = "no data";
        } else if (tok_.kind == Token::Kind::word && !is_keyword(tok_.text) &&
                   health_word(peek_word()) != Health::none) {
            health(rule);
            rule.condition = trim(line_.substr(body, tok_.column - body));
            if (word("and") || word("or") || word("for") || word("clear"))
                throw Failure{tok_.column, cat("'", tok_.text, "' after a health condition"), hint_alone};
        } else {
            first_field_ = std::nullopt;
            rule.when = expression();
            rule.field = first_field_.value_or(0);
            if (word("for")) {
                advance();
                if (tok_.kind == Token::Kind::number) {
                    const Token count = tok_;
                    unsigned n = 0;
                    const auto [p, ec] = std::from_chars(count.text.data(), count.text.data() + count.text.size(), n);
                    if (ec != std::errc() || p != count.text.data() + count.text.size() || n == 0 || n > 1000000)
                        throw Failure{count.column, cat("'", count.text, "' is not a count of readings (1 to 1000000)"),
                                      "e.g. for 5 readings"};
                    advance();
                    if (!word("readings") && !word("reading"))
                        throw Failure{tok_.column, cat("expected 'readings' after 'for ", count.text, "'"),
                                      cat("write 'for ", count.text, " readings', or a duration such as 'for ",
                                          count.text, "m'")};
                    advance();
                    rule.readings = n;
                } else {
                    rule.hold = duration("after 'for'");
                }
            }
            rule.condition = trim(line_.substr(body, tok_.column - body));
            if (word("clear")) {
                advance();
                rule.clear = expression();
                after_clear_ = true;
            }
        }
        if (tok_.kind == Token::Kind::bad && (tok_.text == "&&" || tok_.text == "||" || tok_.text == "&" || tok_.text == "|"))
            throw Failure{tok_.column, cat("unexpected '", tok_.text, "'"), "combine conditions with and, or, not"};
        if (tok_.kind != Token::Kind::arrow)
            throw Failure{tok_.column,
                          cat("expected ",
                              rule.no_data || rule.health != Health::none ? "'->'" : after_clear_ ? "'->', 'and' or 'or'" : "'->', 'and', 'or', 'for' or 'clear'",
                              ", found ", describe(tok_)),
                          tok_.kind == Token::Kind::end ? "a rule ends with -> ACTION [SEVERITY], e.g. -> alert warning"
                                                        : hint_rule};
        advance();
        if (tok_.kind != Token::Kind::word)
            throw Failure{tok_.column, cat("expected an action after '->', found ", describe(tok_)), hint_actions};
        if (tok_.text == "alert")
            rule.action = Action::alert;
        else if (tok_.text == "notify")
            rule.action = Action::notify;
        else if (tok_.text == "escalate")
            rule.action = Action::escalate;
        else
            throw Failure{tok_.column, cat("unknown action '", tok_.text, "'"), hint_actions};
        rule.severity = rule.action == Action::notify     ? Severity::info
                        : rule.action == Action::escalate ? Severity::critical
                                                          : Severity::warning;
        advance();
        if (tok_.kind == Token::Kind::word && tok_.text != "unless") {
            if (tok_.text == "info")
                rule.severity = Severity::info;
            else if (tok_.text == "warning")
                rule.severity = Severity::warning;
            else if (tok_.text == "critical")
                rule.severity = Severity::critical;
            else
                throw Failure{tok_.column, cat("unknown severity '", tok_.text, "'"), hint_severities};
            advance();
        }
        if (word("unless")) {
            advance();
            expect_word("unhealthy", "expected 'unhealthy' after 'unless'", "e.g. hot: temperature > 30 -> alert unless unhealthy");
            if (!rule.threshold())
                throw Failure{body, "'unless unhealthy' is for rules that compare values, not no data or health rules",
                              "a health rule or no data rule is what makes a sensor unhealthy"};
            rule.unless_unhealthy = true;
        }
        if (tok_.kind == Token::Kind::string) {
            rule.message = message_template(tok_);
            advance();
        }
        if (tok_.kind != Token::Kind::end)
            throw Failure{tok_.column, cat("unexpected ", describe(tok_), " at the end of the rule"),
                          "after the action come an optional severity, 'unless unhealthy' and a \"message\""};
        end_ = tok_.column;
        if (!rule.no_data)
            rule.field_name = set_.fields[rule.field];
        return rule;
    }

    // Where the rule ends: before a trailing comment.
    std::size_t end() const noexcept { return end_; }

private:
    void advance()
    {
        tok_ = lex_.next();
        if (tok_.kind == Token::Kind::bad && !tok_.text.empty() && tok_.text.front() == '"')
            throw Failure{tok_.column, "unterminated string", "a message is written in double quotes: \"...\""};
    }

    std::string_view peek_word()
    {
        const std::size_t saved = lex_.position();
        const Token t = lex_.next();
        lex_.seek(saved);
        return t.kind == Token::Kind::word ? t.text : std::string_view();
    }

    bool word(std::string_view w) const noexcept { return tok_.kind == Token::Kind::word && tok_.text == w; }

    void expect_word(std::string_view w, const std::string &message, const char *hint)
    {
        if (!word(w))
            throw Failure{tok_.column, cat(message, ", found ", describe(tok_)), hint};
        advance();
    }

    Duration duration(std::string_view where)
    {
        const Token t = tok_;
        if (t.kind != Token::Kind::duration && t.kind != Token::Kind::number)
            throw Failure{t.column, cat("expected a duration ", where, ", found ", describe(t)), hint_duration};
        const auto d = parse_duration(t.text);
        if (!d || d->count() <= 0)
            throw Failure{t.column, cat("'", t.text, "' is not a duration"), hint_duration};
        advance();
        return *d;
    }

    static std::string trim(std::string_view s)
    {
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
            s.remove_suffix(1);
        return std::string(s);
    }

    // FIELD unchanged for DURATION | FIELD jumps by NUMBER | FIELD rises|falls by NUMBER within DURATION
    void health(Rule &rule)
    {
        rule.field = field_index(tok_.text);
        advance();
        rule.health = health_word(tok_.text);
        const std::string form(tok_.text);
        advance();
        if (rule.health == Health::unchanged) {
            expect_word("for", "expected 'for' after 'unchanged'", hint_health);
            rule.span = duration("after 'unchanged for'");
            return;
        }
        expect_word("by", cat("expected 'by' after '", form, "'"), hint_health);
        const Token amount = tok_;
        if (amount.kind != Token::Kind::number)
            throw Failure{amount.column, cat("expected a number after '", form, " by', found ", describe(amount)),
                          hint_health};
        rule.delta = number();
        advance();
        if (!(rule.delta > 0) || rule.delta > 1e300)
            throw Failure{amount.column, cat("'", amount.text, "' is not an amount above 0"), hint_health};
        if (rule.health == Health::jumps)
            return;
        expect_word("within", cat("expected 'within' after '", form, " by ", amount.text, "'"),
                    "e.g. temperature rises by 5 within 10m");
        const Token span = tok_;
        rule.span = duration("after 'within'");
        if (rule.span < Duration(window_steps))
            throw Failure{span.column, cat("'", span.text, "' is too short a window"), "a window is at least 16ns"};
    }

    // The number at tok_, which is a number token.
    double number()
    {
        double v = 0;
        const char *b = tok_.text.data();
        if (*b == '+')
            ++b;
        const auto [p, ec] = std::from_chars(b, tok_.text.data() + tok_.text.size(), v);
        if (ec != std::errc() || p != tok_.text.data() + tok_.text.size())
            throw Failure{tok_.column, cat("'", tok_.text, "' is not a number"), hint_compare};
        return v;
    }

    // or-expression := and-expression { "or" and-expression }
    std::unique_ptr<Expr> expression()
    {
        auto left = conjunction();
        while (word("or")) {
            advance();
            auto e = std::make_unique<Expr>();
            e->kind = Expr::Kind::any;
            e->left = std::move(left);
            e->right = conjunction();
            left = std::move(e);
        }
        return left;
    }

    std::unique_ptr<Expr> conjunction()
    {
        auto left = unary();
        while (word("and")) {
            advance();
            auto e = std::make_unique<Expr>();
            e->kind = Expr::Kind::all;
            e->left = std::move(left);
            e->right = unary();
            left = std::move(e);
        }
        return left;
    }

    std::unique_ptr<Expr> unary()
    {
        if (word("not")) {
            advance();
            auto e = std::make_unique<Expr>();
            e->kind = Expr::Kind::negate;
            e->left = unary();
            return e;
        }
        if (tok_.kind == Token::Kind::lparen) {
            const Token open = tok_;
            advance();
            auto e = expression();
            if (tok_.kind != Token::Kind::rparen)
                throw Failure{tok_.column, cat("expected ')', found ", describe(tok_)),
                              cat("the '(' at column ", open.column + 1, " is not closed")};
            advance();
            return e;
        }
        return comparison();
    }

    std::unique_ptr<Expr> comparison()
    {
        if (tok_.kind == Token::Kind::bad && (tok_.text == "&&" || tok_.text == "||" || tok_.text == "&" || tok_.text == "|"))
            throw Failure{tok_.column, cat("unexpected '", tok_.text, "'"), "combine conditions with and, or, not"};
        if (tok_.kind != Token::Kind::word || is_keyword(tok_.text))
            throw Failure{tok_.column, cat("expected a field name, found ", describe(tok_)), hint_compare};
        auto e = std::make_unique<Expr>();
        e->field = field_index(tok_.text);
        if (!first_field_)
            first_field_ = e->field;
        advance();
        if (tok_.kind == Token::Kind::bad && (tok_.text == "&&" || tok_.text == "||"))
            throw Failure{tok_.column, cat("unexpected '", tok_.text, "'"), "combine conditions with and, or, not"};
        if (tok_.kind == Token::Kind::word && health_word(tok_.text) != Health::none)
            throw Failure{tok_.column, cat("'", tok_.text, "' inside a condition"), hint_alone};
        if (tok_.kind != Token::Kind::op)
            throw Failure{tok_.column, cat("expected a comparison after the field, found ", describe(tok_)),
                          hint_compare};
        const Token op = tok_;
        if (op.text == "<")
            e->op = Op::lt;
        else if (op.text == "<=")
            e->op = Op::le;
        else if (op.text == ">")
            e->op = Op::gt;
        else if (op.text == ">=")
            e->op = Op::ge;
        else if (op.text == "==")
            e->op = Op::eq;
        else if (op.text == "!=")
            e->op = Op::ne;
        else
            throw Failure{op.column, cat("unknown operator '", op.text, "'"),
                          op.text == "=" ? "equality is written ==" : hint_compare};
        advance();
        if (tok_.kind == Token::Kind::number) {
            e->number = number();
        } else if (tok_.kind == Token::Kind::string) {
            if (e->op != Op::eq && e->op != Op::ne)
                throw Failure{tok_.column, "a string compares with == or != only",
                              "e.g. state == \"ok\"; order comparisons take a number"};
            e->text_operand = true;
            e->text = unescape(tok_.text);
        } else {
            throw Failure{tok_.column, cat("expected a number after '", op.text, "', found ", describe(tok_)),
                          hint_compare};
        }
        advance();
        return e;
    }

    std::size_t field_index(std::string_view path)
    {
        auto &fields = set_.fields;
        const auto it = std::find(fields.begin(), fields.end(), path);
        if (it != fields.end())
            return static_cast<std::size_t>(it - fields.begin());
        fields.emplace_back(path);
        return fields.size() - 1;
    }

    static std::string unescape(std::string_view s)
    {
        std::string out;
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (s[i] == '\\' && i + 1 < s.size()) {
                ++i;
                out.push_back(s[i] == 'n' ? '\n' : s[i] == 't' ? '\t' : s[i]);
            } else {
                out.push_back(s[i]);
            }
        }
        return out;
    }

    std::vector<TemplatePart> message_template(const Token &t)
    {
        static constexpr std::pair<std::string_view, TemplatePart::Kind> names[] = {
            {"rule", TemplatePart::Kind::rule},         {"sensor", TemplatePart::Kind::sensor},
            {"topic", TemplatePart::Kind::topic},       {"field", TemplatePart::Kind::field},
            {"value", TemplatePart::Kind::value},       {"severity", TemplatePart::Kind::severity},
            {"action", TemplatePart::Kind::action},     {"state", TemplatePart::Kind::state},
            {"condition", TemplatePart::Kind::condition}};
        const std::string text = unescape(t.text);
        std::vector<TemplatePart> parts;
        std::string literal;
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '{' && i + 1 < text.size() && text[i + 1] == '{') {
                literal.push_back('{');
                ++i;
                continue;
            }
            if (text[i] == '}' && i + 1 < text.size() && text[i + 1] == '}') {
                literal.push_back('}');
                ++i;
                continue;
            }
            if (text[i] != '{') {
                literal.push_back(text[i]);
                continue;
            }
            const std::size_t close = text.find('}', i);
            const std::string_view name =
                close == std::string::npos ? std::string_view() : std::string_view(text).substr(i + 1, close - i - 1);
            const auto *it = std::find_if(std::begin(names), std::end(names),
                                          [&](const auto &n) { return n.first == name; });
            if (close == std::string::npos || it == std::end(names))
                throw Failure{t.column + 1 + i, cat("unknown placeholder '", text.substr(i, close == std::string::npos ? 1 : close - i + 1), "'"),
                              "placeholders: {rule} {sensor} {topic} {field} {value} {severity} {action} {state} "
                              "{condition}; '{{' writes a brace"};
            if (!literal.empty())
                parts.push_back({TemplatePart::Kind::text, std::move(literal)});
            literal.clear();
            parts.push_back({it->second, {}});
            i = close;
        }
        if (!literal.empty())
            parts.push_back({TemplatePart::Kind::text, std::move(literal)});
        return parts;
    }

    Lexer lex_;
    std::string_view line_;
    RuleSet &set_;
    Token tok_;
    std::optional<std::size_t> first_field_;
    std::size_t end_ = 0;
    bool after_clear_ = false;
};

}  // namespace

void parse_rules(std::string_view text, const std::string &source, RuleSet &set, std::vector<ParseError> &errors)
{
    std::size_t line_no = 0;
    while (!text.empty()) {
        const std::size_t nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
        ++line_no;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        std::size_t indent = 0;
        while (indent < line.size() && (line[indent] == ' ' || line[indent] == '\t'))
            ++indent;
        const std::string_view body = line.substr(indent);
        if (body.empty() || body.front() == '#')
            continue;
        // The rule's identity: its text without indentation, trailing blanks or a comment.
        std::string_view identity = body;
        const auto report = [&](std::size_t column, std::string message, std::string hint) {
            errors.push_back({cat(source, ":", line_no, ":", indent + column + 1), std::move(message),
                              std::string(line), indent + column + 1, std::move(hint)});
        };
        try {
            // The set's fields are kept only if the rule parses.
            const std::size_t fields_before = set.fields.size();
            Rule rule;
            try {
                Parser parser(body, set);
                rule = parser.parse();
                identity = body.substr(0, parser.end());
            } catch (...) {
                set.fields.resize(fields_before);
                throw;
            }
            while (!identity.empty() && (identity.back() == ' ' || identity.back() == '\t'))
                identity.remove_suffix(1);
            rule.source = std::string(identity);
            rule.origin = cat(source, ":", line_no);
            const auto dup = std::find_if(set.rules.begin(), set.rules.end(),
                                          [&](const Rule &r) { return r.name == rule.name; });
            if (dup != set.rules.end()) {
                report(0, cat("rule '", rule.name, "' is defined twice"),
                       cat("rule names are unique; the first one is at ", dup->origin));
                continue;
            }
            set.rules.push_back(std::move(rule));
        } catch (const Failure &f) {
            report(f.column, f.message, f.hint);
        }
    }
}

std::string format_error(const ParseError &e)
{
    if (e.line.empty() && e.column <= 1)  // about the whole file: no line to point into
        return cat(e.where, ": ", e.message, e.hint.empty() ? "" : "\n    hint: ", e.hint);
    std::string out = cat(e.where, ": ", e.message, "\n    ", e.line, "\n    ");
    for (std::size_t i = 1; i < e.column && i <= e.line.size(); ++i)
        out.push_back(e.line[i - 1] == '\t' ? '\t' : ' ');
    out += "^";
    if (!e.hint.empty())
        out += cat("\n    hint: ", e.hint);
    return out;
}

std::optional<RuleSet> load_rules(const std::vector<std::string> &files, const std::vector<std::string> &inline_rules)
{
    RuleSet set;
    std::vector<ParseError> errors;
    std::string text;
    for (const auto &file : files) {
        if (const auto error = read_file(file, text); !error.empty())
            fail(exit_noinput, cat(file, ": ", error));
        const auto before = set.rules.size();
        const auto errors_before = errors.size();
        parse_rules(text, file, set, errors);
        // A rules file without a rule is a mistake (the wrong file, an empty
        // one), never "0 rules, no errors".
        if (set.rules.size() == before && errors.size() == errors_before)
            errors.push_back({cat(file, ":1:1"), "no rules in this file (empty, or only comments)", "",
                              1, "a rule is NAME: CONDITION -> ACTION, e.g. cold: temperature < 5 -> alert (dht-rules(5))"});
    }
    for (std::size_t i = 0; i < inline_rules.size(); ++i)
        parse_rules(inline_rules[i], cat("-e#", i + 1), set, errors);
    for (const auto &e : errors)
        warn(format_error(e));
    if (!errors.empty()) {
        warn(cat(errors.size(), errors.size() == 1 ? " error" : " errors", " in the rules"));
        return std::nullopt;
    }
    return set;
}

}  // namespace dht::rules
