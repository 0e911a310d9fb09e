//! One-line glosses of the rustc error codes models commonly hit, so an error profile says what
//! a model struggles with (the borrow checker, types, names) without a trip to the error index.

/// What a rustc error code means, in a few words; None for a code not in the table (its full
/// text is `rustc --explain CODE`).
pub fn gloss(code: &str) -> Option<&'static str> {
    GLOSSES
        .binary_search_by(|(listed, _)| listed.cmp(&code))
        .ok()
        .map(|index| GLOSSES[index].1)
}

/// Sorted by code, for the binary search. Worded after `rustc --explain`.
const GLOSSES: &[(&str, &str)] = &[
    ("E0004", "non-exhaustive match"),
    ("E0023", "pattern has the wrong number of fields"),
    ("E0026", "struct pattern names a field that does not exist"),
    ("E0027", "struct pattern misses fields"),
    ("E0046", "trait impl misses items"),
    (
        "E0050",
        "trait method impl has the wrong number of parameters",
    ),
    (
        "E0053",
        "trait method impl does not match the trait's signature",
    ),
    ("E0061", "wrong number of arguments to a function"),
    ("E0063", "struct literal misses fields"),
    ("E0069", "`return;` in a function that returns a value"),
    ("E0072", "recursive type of infinite size (needs a Box)"),
    ("E0106", "missing lifetime specifier"),
    ("E0107", "wrong number of generic arguments"),
    ("E0119", "conflicting trait implementations"),
    ("E0133", "unsafe code outside an unsafe block"),
    ("E0191", "trait object without its associated type"),
    ("E0201", "item defined twice in one impl"),
    ("E0204", "Copy on a type with a field that is not Copy"),
    ("E0207", "impl parameter not constrained by the impl"),
    ("E0220", "associated type not defined in the trait"),
    ("E0223", "ambiguous associated type"),
    ("E0252", "two imports of the same name"),
    ("E0255", "import clashes with a local item"),
    ("E0261", "undeclared lifetime"),
    ("E0268", "break or continue outside a loop"),
    (
        "E0271",
        "associated type mismatch (e.g. an iterator's Item)",
    ),
    ("E0275", "overflow evaluating a trait requirement"),
    ("E0277", "trait bound not satisfied"),
    ("E0282", "type annotations needed"),
    ("E0283", "type annotations needed (ambiguous impl)"),
    ("E0308", "mismatched types"),
    ("E0309", "parameter type may not live long enough"),
    ("E0310", "parameter type may not live long enough ('static)"),
    (
        "E0368",
        "compound assignment (`+=` …) unsupported for the type",
    ),
    ("E0369", "binary operator unsupported for the type"),
    ("E0373", "closure may outlive a borrowed value (needs move)"),
    ("E0381", "use of a possibly uninitialized variable"),
    ("E0382", "use after move"),
    ("E0384", "immutable variable assigned twice"),
    ("E0392", "unused type or lifetime parameter"),
    ("E0401", "inner item uses an outer generic parameter"),
    ("E0403", "generic parameter named twice"),
    ("E0404", "not a trait, used as one"),
    ("E0405", "unknown trait name"),
    ("E0407", "method is not a member of the trait"),
    ("E0412", "unknown type name"),
    ("E0422", "unknown struct name"),
    ("E0423", "expected a value, found a type or module"),
    ("E0424", "`self` in a function without a self receiver"),
    ("E0425", "unresolved name"),
    ("E0426", "undeclared label"),
    ("E0428", "name defined twice"),
    ("E0432", "unresolved import"),
    (
        "E0433",
        "unresolved path (undeclared crate, module or type)",
    ),
    ("E0434", "inner fn captures a local variable"),
    ("E0435", "non-constant value in a constant"),
    ("E0463", "crate not found"),
    ("E0499", "borrowed as mutable more than once"),
    ("E0502", "borrowed as mutable while borrowed as immutable"),
    ("E0503", "value used while mutably borrowed"),
    ("E0505", "moved out while borrowed"),
    ("E0506", "assigned to while borrowed"),
    ("E0507", "move out of a borrow"),
    ("E0515", "returns a reference to a local value"),
    ("E0521", "borrowed data escapes the function"),
    ("E0525", "closure does not implement the expected Fn trait"),
    (
        "E0532",
        "pattern of the wrong kind (tuple vs struct vs unit)",
    ),
    ("E0559", "enum variant has no field of that name"),
    ("E0560", "struct has no field of that name"),
    ("E0562", "`impl Trait` where it is not allowed"),
    ("E0573", "expected a type, found something else"),
    (
        "E0574",
        "expected a struct or variant, found something else",
    ),
    ("E0583", "file not found for a module"),
    ("E0592", "duplicate definitions with the same name"),
    ("E0593", "closure takes the wrong number of arguments"),
    ("E0594", "assignment to an immutable place"),
    ("E0596", "mutable borrow of something not declared mut"),
    ("E0597", "borrowed value does not live long enough"),
    ("E0599", "no method or associated item of that name"),
    ("E0600", "unary operator unsupported for the type"),
    ("E0601", "no main function"),
    ("E0603", "private item used outside its module"),
    ("E0604", "only u8 can be cast to char"),
    ("E0605", "non-primitive cast"),
    ("E0606", "invalid cast"),
    ("E0608", "indexing a type that cannot be indexed"),
    ("E0609", "no field of that name"),
    ("E0610", "field access on a primitive type"),
    ("E0614", "dereference of a type that cannot be dereferenced"),
    (
        "E0615",
        "method accessed like a field (missing parentheses)",
    ),
    ("E0616", "private field"),
    ("E0618", "call of something that is not a function"),
    ("E0620", "cast to an unsized type"),
    ("E0621", "explicit lifetime required in a parameter's type"),
    ("E0624", "private method"),
    ("E0631", "closure argument type mismatch"),
    (
        "E0637",
        "`'_` or `&` without a lifetime where one is needed",
    ),
    ("E0658", "unstable feature"),
    ("E0689", "method on an ambiguous numeric type"),
    ("E0700", "`impl Trait` captures a lifetime it does not name"),
    ("E0716", "temporary value dropped while borrowed"),
    ("E0726", "elided lifetime not allowed here"),
    ("E0728", "await outside an async function or block"),
    ("E0733", "recursive async fn without boxing"),
    ("E0746", "returns an unboxed trait object"),
    ("E0765", "unterminated string"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_so_every_code_is_found() {
        assert!(GLOSSES.windows(2).all(|pair| pair[0].0 < pair[1].0));
        for (code, text) in GLOSSES {
            assert_eq!(gloss(code), Some(*text));
        }
    }

    #[test]
    fn common_codes_read_as_what_went_wrong() {
        assert_eq!(gloss("E0308"), Some("mismatched types"));
        assert_eq!(gloss("E0382"), Some("use after move"));
        assert_eq!(gloss("E9999"), None);
    }
}
