//! A small XML document tree built with `quick-xml`: element local names, attributes,
//! children and text. The PMML compiler walks this tree.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::error::PmmlError;

/// The deepest element nesting accepted; deeper documents are refused rather than
/// risking the stack in the recursive compiler.
pub(crate) const MAX_DEPTH: usize = 400;

/// One XML element: its local name (namespace prefix removed), attributes (local names),
/// child elements in document order and the concatenated text directly inside it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

fn local(name: &str) -> &str {
    match name.rfind(':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

impl Element {
    /// The value of an attribute, by local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Children with a given local name.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first child with a given local name.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Children other than `Extension` elements (which PMML allows anywhere and which
    /// carry no semantics for scoring).
    pub fn content(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter(|c| c.name != "Extension")
    }
}

/// Parses a whole document and returns its root element.
pub(crate) fn parse(text: &str) -> Result<Element, PmmlError> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let pos = reader.buffer_position();
        let event = reader.read_event().map_err(|e| xml_err(&e, pos))?;
        match event {
            Event::Start(start) => {
                let el = element(&start, pos)?;
                if root.is_some() {
                    return Err(PmmlError::Xml("content after the root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(PmmlError::Xml(format!(
                        "elements nested deeper than {MAX_DEPTH} levels"
                    )));
                }
                stack.push(el);
            }
            Event::Empty(start) => {
                let el = element(&start, pos)?;
                if root.is_some() {
                    return Err(PmmlError::Xml("content after the root element".into()));
                }
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| PmmlError::Xml("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let resolved: String =
                    if let Some(c) = r.resolve_char_ref().map_err(|e| xml_err(&e, pos))? {
                        c.to_string()
                    } else {
                        let name = r.xml10_content();
                        match resolve_predefined_entity(&name) {
                            Some(s) => s.to_string(),
                            None => return Err(PmmlError::Xml(format!("unknown entity &{name};"))),
                        }
                    };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            Event::DocType(_) => {
                return Err(PmmlError::Xml(
                    "DOCTYPE declarations are not accepted".into(),
                ))
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(PmmlError::Xml(
            "unexpected end of document (unclosed elements)".into(),
        ));
    }
    root.ok_or_else(|| PmmlError::Xml("the document has no root element".into()))
}

fn xml_err(e: &dyn std::fmt::Display, pos: u64) -> PmmlError {
    PmmlError::Xml(format!("{e} (at byte {pos})"))
}

fn element(start: &BytesStart<'_>, pos: u64) -> Result<Element, PmmlError> {
    let name = local(start.name().into_inner()).to_string();
    let mut attrs = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(|e| xml_err(&e, pos))?;
        let key = a.key.into_inner();
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| xml_err(&e, pos))?;
        attrs.push((local(key).to_string(), value.into_owned()));
    }
    Ok(Element {
        name,
        attrs,
        children: Vec::new(),
        text: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_elements_attributes_and_text() {
        let doc = r#"<?xml version="1.0"?><PMML xmlns="http://www.dmg.org/PMML-4_4" xmlns:data="x" version="4.4">
            <A b="1 &amp; 2"/><data:row><data:input>S&#227;o &lt;P&gt;</data:input></data:row><!-- c --></PMML>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.name, "PMML");
        assert_eq!(root.attr("version"), Some("4.4"));
        assert_eq!(root.children.len(), 2);
        assert_eq!(root.children[0].attr("b"), Some("1 & 2"));
        assert_eq!(root.children[1].name, "row");
        assert_eq!(root.children[1].children[0].text, "São <P>");
    }

    #[test]
    fn rejects_broken_documents() {
        assert!(parse("<PMML><A></PMML>").is_err());
        assert!(parse("<PMML>").is_err());
        assert!(parse("").is_err());
        assert!(parse("<A/><B/>").is_err());
    }
}
