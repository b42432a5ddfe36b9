//! The component schemas a document's operations refer to.

use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ArrayItems, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::http::views::Page;

/// Collects the component schemas the operations refer to.
#[derive(Default)]
pub struct Components {
    pub(super) schemas: Vec<(String, RefOr<Schema>)>,
}

impl Components {
    /// A reference to `T`, registering it and everything it refers to. Answers are closed:
    /// a field the type does not declare is outside the document.
    pub fn of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        let name = T::name().into_owned();
        if !self.schemas.iter().any(|(known, _)| *known == name) {
            let mut found = vec![(name.clone(), T::schema())];
            T::schemas(&mut found);
            for (name, schema) in found {
                if !self.schemas.iter().any(|(known, _)| *known == name) {
                    self.schemas.push((name, closed(schema)));
                }
            }
        }
        RefOr::Ref(Ref::from_schema_name(name))
    }

    /// A reference to a request's fields (open: unknown fields are ignored, as handlers do).
    pub fn input<T: ToSchema>(&mut self) -> RefOr<Schema> {
        let name = T::name().into_owned();
        if !self.schemas.iter().any(|(known, _)| *known == name) {
            self.schemas.push((name.clone(), T::schema()));
        }
        RefOr::Ref(Ref::from_schema_name(name))
    }

    pub fn list_of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        ArrayBuilder::new().items(self.of::<T>()).into()
    }

    /// A print page of `T`: the rows in `data` and the meta beside them.
    pub fn page_of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        let item = self.of::<T>();
        let mut page = match closed(Page::<T>::schema()) {
            RefOr::T(Schema::Object(object)) => object,
            _ => unreachable!("a page is an object"),
        };
        page.properties
            .insert("data".into(), ArrayBuilder::new().items(item).into());
        RefOr::T(Schema::Object(page))
    }
}

/// Forbids undeclared fields in an object schema and the objects inside it.
fn closed(schema: RefOr<Schema>) -> RefOr<Schema> {
    match schema {
        RefOr::T(Schema::Object(mut object)) => {
            if object.additional_properties.is_none() && !object.properties.is_empty() {
                object.additional_properties =
                    Some(Box::new(AdditionalProperties::FreeForm(false)));
            }
            object.properties = object
                .properties
                .into_iter()
                .map(|(name, property)| (name, closed(property)))
                .collect();
            RefOr::T(Schema::Object(object))
        }
        RefOr::T(Schema::OneOf(mut one_of)) => {
            one_of.items = one_of.items.into_iter().map(closed).collect();
            RefOr::T(Schema::OneOf(one_of))
        }
        RefOr::T(Schema::Array(mut array)) => {
            if let ArrayItems::RefOrSchema(item) = array.items {
                array.items = ArrayItems::RefOrSchema(Box::new(closed(*item)));
            }
            RefOr::T(Schema::Array(array))
        }
        other => other,
    }
}
