"""One screen class per ``flows.view.Screen`` value; importing this loads every screen's .kv.

Import only after the Kivy window config is set (``kiosk.app`` does that).
"""

from __future__ import annotations

from flows.view import Screen
from kiosk.screens.base import KioskScreen
from kiosk.screens.card_prompt import CardPromptScreen
from kiosk.screens.code_entry import CodeEntryScreen
from kiosk.screens.compartment_size import CompartmentSizeScreen
from kiosk.screens.documents import DocumentsScreen
from kiosk.screens.door_open import DoorOpenScreen
from kiosk.screens.face import FaceScreen
from kiosk.screens.fingerprint import FingerprintScreen
from kiosk.screens.guide import GuideScreen
from kiosk.screens.identity import IdentityScreen
from kiosk.screens.idle import IdleScreen
from kiosk.screens.maintenance import MaintenanceScreen
from kiosk.screens.message import MessageScreen
from kiosk.screens.out_of_service import OutOfServiceScreen
from kiosk.screens.phone_entry import PhoneEntryScreen
from kiosk.screens.rating import RatingScreen
from kiosk.screens.receipt import ReceiptScreen
from kiosk.screens.result_pickup import ResultPickupScreen
from kiosk.screens.staff_compartments import StaffCompartmentsScreen
from kiosk.screens.staff_pickups import StaffPickupsScreen
from kiosk.screens.staff_pin import StaffPinScreen

SCREENS: dict[Screen, type[KioskScreen]] = {
    Screen.IDLE: IdleScreen,
    Screen.CARD_PROMPT: CardPromptScreen,
    Screen.IDENTITY: IdentityScreen,
    Screen.FACE: FaceScreen,
    Screen.FINGERPRINT: FingerprintScreen,
    Screen.GUIDE: GuideScreen,
    Screen.DOCUMENTS: DocumentsScreen,
    Screen.COMPARTMENT_SIZE: CompartmentSizeScreen,
    Screen.DOOR_OPEN: DoorOpenScreen,
    Screen.RECEIPT: ReceiptScreen,
    Screen.STAFF_PIN: StaffPinScreen,
    Screen.STAFF_PICKUPS: StaffPickupsScreen,
    Screen.STAFF_COMPARTMENTS: StaffCompartmentsScreen,
    Screen.RESULT_PICKUP: ResultPickupScreen,
    Screen.CODE_ENTRY: CodeEntryScreen,
    Screen.MESSAGE: MessageScreen,
    Screen.OUT_OF_SERVICE: OutOfServiceScreen,
    Screen.MAINTENANCE: MaintenanceScreen,
    Screen.PHONE_ENTRY: PhoneEntryScreen,
    Screen.RATING: RatingScreen,
}

__all__ = ["SCREENS", "KioskScreen"]
