/// What a call's result says about the health of the service that produced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The callee did its job.
    Success,
    /// The callee failed in a way that counts against it (a breaker trips on these, a retry
    /// layer may retry them).
    Failure,
    /// The result says nothing about the callee's health; layers neither count nor retry it.
    Ignored,
}

/// Turns a call's result into an [`Outcome`].
///
/// Every closure `Fn(&Result<Res, Err>) -> Outcome` is a classifier, so a one-off policy needs
/// no new type.
pub trait Classify<Res, Err> {
    /// Classifies one result.
    fn classify(&self, result: &Result<Res, Err>) -> Outcome;
}

impl<F, Res, Err> Classify<Res, Err> for F
where
    F: Fn(&Result<Res, Err>) -> Outcome,
{
    fn classify(&self, result: &Result<Res, Err>) -> Outcome {
        self(result)
    }
}

/// The classifier for services whose errors are exactly their failures: `Ok` is a success,
/// `Err` a failure.
#[derive(Clone, Copy, Debug, Default)]
pub struct ErrorsAreFailures;

impl<Res, Err> Classify<Res, Err> for ErrorsAreFailures {
    fn classify(&self, result: &Result<Res, Err>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closures_and_the_default_classify() {
        let only_500 = |r: &Result<u16, ()>| match r {
            Ok(500) => Outcome::Failure,
            Ok(_) => Outcome::Success,
            Err(()) => Outcome::Ignored,
        };
        assert_eq!(only_500.classify(&Ok(500)), Outcome::Failure);
        assert_eq!(only_500.classify(&Ok(404)), Outcome::Success);
        assert_eq!(only_500.classify(&Err(())), Outcome::Ignored);
        assert_eq!(
            Classify::<u16, ()>::classify(&ErrorsAreFailures, &Err(())),
            Outcome::Failure
        );
        assert_eq!(
            Classify::<u16, ()>::classify(&ErrorsAreFailures, &Ok(500)),
            Outcome::Success
        );
    }
}
