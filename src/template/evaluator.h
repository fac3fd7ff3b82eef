// The interpreter: walks a Program with jinja2's semantics under transformers'
// ImmutableSandboxedEnvironment (Undefined that is falsy and prints empty but
// fails on use; list/dict mutators refused; attribute lookup that falls back
// to item lookup). Filters, tests and methods live in their own files.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "qlm/template.h"
#include "template/ast.h"
#include "template/failure.h"

namespace qlm::tmpl {

struct Scope {
    std::unordered_map<std::string, Value> vars;
    std::shared_ptr<Scope> parent;
    const Value* find(const std::string& name) const {
        for (const Scope* s = this; s; s = s->parent.get()) {
            auto it = s->vars.find(name);
            if (it != s->vars.end()) return &it->second;
        }
        return nullptr;
    }
};

// Bounds every string built while rendering (set by the Evaluator).
void check_size(size_t bytes);
// Bounds list sizes (counts against the iteration budget).
void check_items(size_t n);
// Namespaces are the one mutable container, so the only way to build a
// reference cycle: the Evaluator empties every one it saw when it ends.
void register_namespace(const Value& ns);

// Positional/keyword arguments bound to a Python-style signature:
// bind(args, "filter", {"width", "first"}) -> one slot per name, Undefined when absent.
std::vector<Value> bind(Args& args, const char* what, std::initializer_list<const char*> names, size_t required = 0);

class Evaluator {
public:
    Evaluator(const Program& prog, const TemplateOptions& opt, std::shared_ptr<Scope> globals);
    ~Evaluator();

    std::string run();

    // jinja2's environment.getattr / getitem under the immutable sandbox.
    Value getattr(const Value& obj, const std::string& name);
    Value getitem(const Value& obj, const Value& key);
    Value call(const Value& fn, Args& args);
    Value filter(const std::string& name, Value v, Args& args);
    bool test(const std::string& name, const Value& v, Args& args);
    const TemplateOptions& options() const { return opt_; }

private:
    enum class Flow { Normal, Break, Continue };

    Value eval(const Expr& e, const std::shared_ptr<Scope>& scope);
    Value eval_inner(const Expr& e, const std::shared_ptr<Scope>& scope);
    Args eval_args(const CallArgs& c, const std::shared_ptr<Scope>& scope);
    Value eval_filter_chain(const Expr& e, const std::shared_ptr<Scope>& scope, const Value& innermost);
    Flow exec(const Body& body, const std::shared_ptr<Scope>& scope, std::string& out);
    Flow exec_stmt(const Stmt& s, const std::shared_ptr<Scope>& scope, std::string& out);
    void exec_for(const Stmt& s, const std::shared_ptr<Scope>& scope, std::string& out);
    void assign(const Target& t, Value v, const std::shared_ptr<Scope>& scope);
    Value make_macro(const std::string& name, const std::vector<Param>& params, const Body& body,
                     std::shared_ptr<Scope> closure);
    void append(std::string& out, std::string_view s);

    const Program& prog_;
    const TemplateOptions& opt_;
    std::shared_ptr<Scope> globals_;
    // Scopes that macros close over. Macros point at them without owning
    // them (a macro stored in its own scope would be a reference cycle).
    std::vector<std::shared_ptr<Scope>> closures_;
    std::vector<std::weak_ptr<DictObj>> namespaces_;
    std::vector<std::weak_ptr<DictObj>>* saved_namespaces_;
    int depth_ = 0;
    size_t saved_limit_;
    uint64_t saved_budget_;

    friend struct DepthGuard;
};

// Values the evaluator needs from the other files.
Value binary_op(const std::string& op, const Value& a, const Value& b);
std::string html_escape(std::string_view s);  // markupsafe.escape
bool contains(const Value& container, const Value& item);
std::vector<Value> iterate(const Value& v);  // Python iter(): list items, dict keys, string chars
[[noreturn]] void undefined_error(const Value& u);
bool has_filter(const std::string& name);
bool has_test(const std::string& name);
Value apply_filter(Evaluator& ev, const std::string& name, Value v, Args& args);
bool apply_test(Evaluator& ev, const std::string& name, const Value& v, Args& args);
// Python attribute lookup (methods of str/dict/list, loop attributes); nullopt: no such attribute.
std::optional<Value> python_attribute(Evaluator& ev, const Value& obj, const std::string& name);
std::string py_format(const std::string& fmt, Args& args);  // str.format
std::string py_percent(const std::string& fmt, const Value& args);  // str % args
void add_globals(Scope& globals, const TemplateOptions& opt);

}  // namespace qlm::tmpl
